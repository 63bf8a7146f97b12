import { AirlockError } from '../../../errors.js';
import { generateKeys, type KeyType } from '../../../ops/index.js';
import type { CliContext } from '../../context.js';

export interface KeysGenerateArgs {
  readonly out: string;
  readonly type: KeyType;
  readonly encrypt: boolean;
  readonly force: boolean;
}

export async function runKeysGenerate(raw: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const args = toArgs(raw);
  const { keyPath, pubPath, fingerprint } = await generateKeys(args);
  if (ctx.json) {
    ctx.outJson({ version: 1, key: keyPath, pub: pubPath, type: args.type, encrypted: args.encrypt, fingerprint });
    return;
  }
  ctx.out(
    [
      `private key: ${keyPath} (mode 0600${args.encrypt ? ', encrypted' : ''}; keep it secret, sign with --sign-key)`,
      `public key:  ${pubPath} (give it to importers: --verify-key)`,
      `type:        ${args.type}`,
      `fingerprint: ${fingerprint}`,
    ].join('\n'),
  );
}

function toArgs(raw: Record<string, unknown>): KeysGenerateArgs {
  const out = raw['out'];
  if (typeof out !== 'string' || out === '') {
    throw new AirlockError('USAGE', '--out PREFIX is required', { hint: 'e.g. airlock keys generate --out ./keys/airlock' });
  }
  const type = raw['type'] ?? 'ecdsa-p256';
  if (type !== 'ecdsa-p256' && type !== 'ed25519') {
    throw new AirlockError('USAGE', `unsupported --type ${String(type)}`, { hint: 'choose ecdsa-p256 (default) or ed25519' });
  }
  return { out, type, encrypt: raw['encrypt'] === true, force: raw['force'] === true };
}

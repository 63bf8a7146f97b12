import { AirlockError } from '../../../errors.js';
import { generateKeyPair, keyFingerprint, parsePublicKey, readPassphrase, writeKeyPair, PASSPHRASE_ENV, type KeyType } from '../../../signing/index.js';
import type { CliContext } from '../../context.js';

export interface KeysGenerateArgs {
  readonly out: string;
  readonly type: KeyType;
  readonly encrypt: boolean;
  readonly force: boolean;
}

export async function runKeysGenerate(raw: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const args = toArgs(raw);
  const passphrase = args.encrypt ? await newPassphrase() : undefined;
  const pair = await generateKeyPair({ type: args.type, ...(passphrase ? { passphrase } : {}) });
  const { keyPath, pubPath } = await writeKeyPair(args.out, pair, { force: args.force });
  const fingerprint = keyFingerprint(parsePublicKey(pair.publicPem));
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

/** From the environment, or typed twice on a terminal. An encrypted key with no passphrase is refused. */
async function newPassphrase(): Promise<string> {
  const fromEnv = process.env[PASSPHRASE_ENV];
  const first = await readPassphrase('Passphrase for the new private key: ');
  if (first === undefined) {
    throw new AirlockError('USAGE', '--encrypt needs a passphrase', {
      hint: `set ${PASSPHRASE_ENV} or run on a terminal to be prompted`,
    });
  }
  if (first === '') {
    throw new AirlockError('USAGE', 'the passphrase is empty', { hint: `set a non-empty ${PASSPHRASE_ENV}, or drop --encrypt` });
  }
  if (fromEnv === undefined) {
    const again = await readPassphrase('Repeat the passphrase: ');
    if (again !== first) throw new AirlockError('USAGE', 'the passphrases do not match', { hint: 'run the command again' });
  }
  return first;
}

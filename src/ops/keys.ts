import { AirlockError } from '../errors.js';
import { generateKeyPair, keyFingerprint, parsePublicKey, readPassphrase, writeKeyPair, PASSPHRASE_ENV, type KeyType } from '../signing/index.js';

export interface GenerateKeysOptions {
  /** PREFIX: writes PREFIX.key (mode 0600) and PREFIX.pub. */
  readonly out: string;
  readonly type: KeyType;
  /** Encrypt the private key with a passphrase from $AIRLOCK_PASSPHRASE or typed twice on a terminal. */
  readonly encrypt: boolean;
  /** Overwrite existing files. */
  readonly force: boolean;
}

export interface GenerateKeysResult {
  readonly keyPath: string;
  readonly pubPath: string;
  readonly fingerprint: string;
}

/** `airlock keys generate`: a signing key pair for `--sign-key` / `--verify-key`. */
export async function generateKeys(opts: GenerateKeysOptions): Promise<GenerateKeysResult> {
  const passphrase = opts.encrypt ? await newPassphrase() : undefined;
  const pair = await generateKeyPair({ type: opts.type, ...(passphrase ? { passphrase } : {}) });
  const { keyPath, pubPath } = await writeKeyPair(opts.out, pair, { force: opts.force });
  return { keyPath, pubPath, fingerprint: keyFingerprint(parsePublicKey(pair.publicPem)) };
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

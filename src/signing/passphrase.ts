import { AirlockError } from '../errors.js';

/** The environment variable that carries a key passphrase in scripts and CI (README `keys generate`). */
export const PASSPHRASE_ENV = 'AIRLOCK_KEY_PASSWORD';

export interface PassphraseIo {
  readonly env: NodeJS.ProcessEnv;
  readonly input: NodeJS.ReadStream;
  readonly output: NodeJS.WriteStream;
}

/**
 * A key passphrase: AIRLOCK_KEY_PASSWORD when set, else a prompt on the terminal (the prompt goes
 * to stderr, the typed characters are not echoed), else undefined (no terminal: the caller decides
 * whether that is an error). This is the one place below cli/ that talks to the terminal, because
 * every command that loads a key needs the same prompt; `io` lets tests drive it.
 */
export async function readPassphrase(prompt: string, io?: Partial<PassphraseIo>): Promise<string | undefined> {
  const env = io?.env ?? process.env;
  const fromEnv = env[PASSPHRASE_ENV];
  if (fromEnv !== undefined) return fromEnv;
  const input = io?.input ?? process.stdin;
  const output = io?.output ?? process.stderr;
  if (!input.isTTY || !output.isTTY || typeof input.setRawMode !== 'function') return undefined;
  return promptHidden(prompt, input, output);
}

function promptHidden(prompt: string, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = '';
    const wasRaw = input.isRaw;
    const wasPaused = input.isPaused();
    const done = (err?: AirlockError): void => {
      input.removeListener('data', onData);
      input.setRawMode(wasRaw);
      if (wasPaused) input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString('utf8')) {
        switch (ch) {
          case '\r':
          case '\n':
            done();
            return;
          case '\u0003': // Ctrl-C: raw mode swallows SIGINT, so honour it here
            done(new AirlockError('ABORTED', 'passphrase prompt cancelled'));
            return;
          case '\u0004': // Ctrl-D
            done();
            return;
          case '\u007f':
          case '\b':
            value = value.slice(0, -1);
            break;
          default:
            value += ch;
        }
      }
    };
    output.write(prompt);
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
  });
}

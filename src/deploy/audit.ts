import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AuditEntry {
  /** `recheck`: the target lacked what an earlier run had pushed; the journal was set aside and everything checked again. */
  readonly action: 'push' | 'mount' | 'skip' | 'push-manifest' | 'tag' | 'fail' | 'start' | 'finish' | 'recheck';
  readonly repository?: string;
  readonly digest?: string;
  readonly tag?: string;
  readonly result: 'ok' | 'exists' | 'error';
  readonly detail?: string;
}

/** Append-only JSON lines: time, action, repository, digest, tag, result. */
export class AuditLog {
  readonly path: string;
  #ready: Promise<void> | undefined;
  #chain: Promise<void> = Promise.resolve();
  constructor(path: string) {
    this.path = path;
  }
  write(entry: AuditEntry): Promise<void> {
    this.#ready ??= mkdir(dirname(this.path), { recursive: true }).then(() => {});
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
    this.#chain = this.#chain.then(() => this.#ready!).then(() => appendFile(this.path, line, { mode: 0o640 }));
    return this.#chain;
  }
  flush(): Promise<void> {
    return this.#chain;
  }
}

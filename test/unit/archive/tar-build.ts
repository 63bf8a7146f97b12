import { Header } from 'tar';

/** One tar entry: a regular file with a body, or a link / device with none. */
export type Entry = { path: string; body: Buffer } | { path: string; type: 'SymbolicLink' | 'Link' | 'FIFO' | 'CharacterDevice'; linkpath?: string };

function header(path: string, type: string, size: number, linkpath?: string): Buffer {
  const block = Buffer.alloc(512);
  new Header({ path, type: type as never, size, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), ...(linkpath ? { linkpath } : {}) }).encode(block, 0);
  return block;
}

/** A tar built block by block, so that links and devices can be put in it (as `docker save` and hostile archives do). */
export function makeTar(entries: readonly Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if ('body' in e) {
      parts.push(header(e.path, 'File', e.body.length), e.body, Buffer.alloc((512 - (e.body.length % 512)) % 512));
    } else {
      parts.push(header(e.path, e.type, 0, e.linkpath));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}


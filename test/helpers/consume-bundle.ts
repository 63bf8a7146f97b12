import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openBundle, readBundleFront } from '../../src/bundle/index.js';
import { verifyStream } from '../../src/content/index.js';

/** What import and verify do with a bundle: read the front, open it, verify every body, drain. */
export async function consumeBundle(path: string): Promise<void> {
  await readBundleFront(path);
  const r = await openBundle([path]);
  try {
    for await (const e of r.blobs()) {
      const target = e.piece ? { digest: e.piece.digest, size: e.piece.size } : e.desc;
      await pipeline(e.body, verifyStream(target), new Writable({ write(_c, _e, cb) { cb(); } }));
    }
  } finally {
    await r.close();
  }
}

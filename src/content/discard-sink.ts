import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { Descriptor } from '../oci/index.js';
import type { CallOptions, ContentSink } from './types.js';
import { verifyStream } from './verify-stream.js';

/** `verify` is a copy to nowhere: every byte passes through verifyStream and is dropped. */
export class DiscardSink implements ContentSink {
  bytes = 0;
  async exists(): Promise<boolean> {
    return false;
  }
  async push(desc: Descriptor, body: Readable, opts?: CallOptions): Promise<void> {
    await pipeline(
      body,
      verifyStream(desc),
      new Writable({
        write: (chunk: Buffer, _e, cb) => {
          this.bytes += chunk.length;
          cb();
        },
      }),
      ...(opts?.signal ? [{ signal: opts.signal }] : []),
    );
  }
  async tag(): Promise<void> {}
}

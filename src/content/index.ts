export * from './types.js';
export { VerifyStream, verifyStream, readVerified, readCapped, digestMatches, verifyBytes, type VerifyStreamOptions } from './verify-stream.js';
export { MemoryStore } from './memory-store.js';
export { DiscardSink } from './discard-sink.js';

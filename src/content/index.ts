export * from './types.js';
export { VerifyStream, VERIFIES, isVerifiedFor, verifyStream, verifyBody, readVerified, readCapped, digestMatches, verifyBytes, verifyHashed, type VerifyStreamOptions, type SelfVerifying } from './verify-stream.js';
export { MemoryStore } from './memory-store.js';
export { DiscardSink, type DiscardSinkOptions } from './discard-sink.js';

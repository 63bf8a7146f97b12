export { parseSize, formatBytes } from './size.js';
export { parseDuration, formatAge } from './duration.js';
export { ByteSemaphore, forEachConcurrent, Semaphore } from './pool.js';
export { redactUrl, redactHeaders } from './redact.js';
export { writeFileAtomic, writeFileAtomicIfChanged, sha256Hex } from './fs.js';
export { takeChunk, releasingChunks, releasing, giveBackAll, chunksOf, CHUNKS, POOL_CHUNK, MIN_RELEASED, type ChunkedBody } from './chunk-pool.js';
export { generatorRow, recoveryMatrix, applyMatrix, checkShape as checkCodeShape, gfMul, invert as gfInvert } from './reed-solomon.js';
export { ReceiveSlabs, releaseReceived, RECEIVE_SLAB } from './receive-pool.js';

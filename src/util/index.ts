export { parseSize, formatBytes } from './size.js';
export { forEachConcurrent, Semaphore } from './pool.js';
export { redactUrl, redactHeaders } from './redact.js';
export { writeFileAtomic, sha256Hex } from './fs.js';
export { takeChunk, releasingChunks, POOL_CHUNK, MIN_RELEASED } from './chunk-pool.js';

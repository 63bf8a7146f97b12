export * from './media-types.js';
export { type Digest, isDigest, parseDigest, hexOf, digestOf, digestFromHex, createDigester, shortDigest } from './digest.js';
export { type Descriptor, parseDescriptor } from './descriptor.js';
export { type Platform, parsePlatform, formatPlatform, platformMatches } from './platform.js';
export {
  type Manifest, type ImageManifest, type ImageIndex, MAX_MANIFEST_BYTES, parseManifest, successors,
} from './manifest.js';

/**
 * zstd-napi's native binding in the offline npm package (scripts/release.ts resolves
 * `zstd-napi/binding.js` to this file there): the package has no node_modules, so the addon
 * built on the release host travels as `zstd-napi.node` beside the bundled chunks, and is loaded
 * from there by main and worker threads alike.
 */
import { createRequire } from 'node:module';
import type * as ZstdBinding from 'zstd-napi/binding.js';

const binding = createRequire(import.meta.url)('./zstd-napi.node') as typeof ZstdBinding;
export default binding;

export {
  type Reference, type ReferenceParts, type ParseReferenceOptions, DOCKER_HUB, DOCKER_HUB_API_HOST, parseReference, parseChartReference, formatReference,
  formatRepository, normaliseRegistry, registryApiHost, withDigest, withTag, isValidTag, isValidRepositoryPath,
  splitReference, registryOf,
} from './reference.js';
export { type TargetRegistry, type RepositoryLayout, parseTarget, mapRepository } from './target.js';

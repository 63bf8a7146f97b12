export {
  type MirrorList, type MirrorDefaults, type RegistrySettings, type TlsMode, type TagSelector, type VerifyPolicy,
  type ImageEntry, type ImageRefEntry, type ImageRepositoryEntry, type ChartEntry, type FileEntry,
  type LockFile, type LockEntry, TLS_MODES,
} from './types.js';
export { parseMirrorList, MAX_MIRROR_LIST_BYTES } from './parse.js';
export { readMirrorLists, mergeMirrorLists } from './read.js';
export { selectTags } from './tags.js';
export { createLockFile, readLockFile, writeLockFile, parseLockFile, compareLock } from './lock.js';
export { parseYamlData, type ParseYamlDataOptions } from './yaml-data.js';
export { type ImageArchiveEntry, type ImageFromFileEntry, type FileSignaturePolicy, type SignatureSource } from './types.js';
export { expandFromFiles, MAX_RELEASE_MANIFEST_BYTES } from './from-file.js';
export {
  type ImportPolicy, type PolicyRule, type PolicyRuleKind, type PolicyKeyless,
  POLICY_RULE_KINDS, globMatch, parsePolicy, readPolicyFile,
} from './policy.js';
export { evaluatePolicy, assertPolicyAllows, type EvaluatePolicyOptions } from './policy-gate.js';

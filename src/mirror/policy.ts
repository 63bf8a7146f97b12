/**
 * The import policy (`airlock bundle import --policy FILE`): a YAML file of rules that every image
 * and chart of a bundle must meet before anything is pushed. It lives beside the mirror list here
 * because it is the other YAML file users write, read with the same reader: every problem at its
 * file:line:col, all of them in one run. Evaluation is mirror/policy-gate.ts.
 *
 * ```yaml
 * version: 1
 * rules:
 *   - kind: signature            # the vendor signature checked at export, re-verified with THIS trust
 *     sources: ghcr.io/vendor/*  # glob(s) over registry/repository; default: every image and chart
 *     key: ./vendor.pub          # or keyless: { identity | identityRegexp, issuer | issuerRegexp, trustedRoot }
 *   - kind: sbom                 # an SBOM referrer (SPDX, CycloneDX, Syft; or an attestation of one)
 *   - kind: provenance           # a SLSA provenance attestation
 *   - kind: registries
 *     allow: [ghcr.io, quay.io]
 *   - kind: platforms
 *     allow: [linux/amd64, linux/arm64]
 * ```
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isScalar, LineCounter, parseDocument } from 'yaml';
import { AirlockError, MultiError, ioError } from '../errors.js';
import { formatPlatform, parsePlatform } from '../oci/index.js';
import { sortByPosition, yamlHint, yamlMessage } from './parse.js';
import { describe, YamlReader } from './yaml-reader.js';

export const POLICY_RULE_KINDS = ['signature', 'sbom', 'provenance', 'registries', 'platforms'] as const;
export type PolicyRuleKind = (typeof POLICY_RULE_KINDS)[number];

export const MAX_POLICY_BYTES = 1024 * 1024;

interface RuleBase {
  /** `file:line:col` of the rule, for messages and the decision record. */
  readonly where: string;
  /** 0-based position in `rules:`. */
  readonly index: number;
}

export interface PolicyKeyless {
  readonly identity?: string;
  readonly identityRegexp?: string;
  readonly issuer?: string;
  readonly issuerRegexp?: string;
  /** Absolute path; else the importer's --trusted-root, else the root carried in the bundle. */
  readonly trustedRoot?: string;
}

export type PolicyRule =
  | (RuleBase & { readonly kind: 'signature'; readonly sources: readonly string[]; readonly key?: string; readonly keyless?: PolicyKeyless })
  | (RuleBase & { readonly kind: 'sbom'; readonly sources: readonly string[] })
  | (RuleBase & { readonly kind: 'provenance'; readonly sources: readonly string[] })
  | (RuleBase & { readonly kind: 'registries'; readonly allow: readonly string[] })
  | (RuleBase & { readonly kind: 'platforms'; readonly allow: readonly string[] });

export interface ImportPolicy {
  readonly version: 1;
  /** The file as given. */
  readonly path: string;
  /** `sha256:<hex>` of the file's bytes: what the receipt records as the policy that decided. */
  readonly digest: string;
  readonly rules: readonly PolicyRule[];
}

const ROOT_KEYS = ['version', 'rules'] as const;
const RULE_KEYS: Readonly<Record<PolicyRuleKind, readonly string[]>> = {
  signature: ['kind', 'sources', 'key', 'keyless'],
  sbom: ['kind', 'sources'],
  provenance: ['kind', 'sources'],
  registries: ['kind', 'allow'],
  platforms: ['kind', 'allow'],
};
const KEYLESS_KEYS = ['identity', 'identityRegexp', 'issuer', 'issuerRegexp', 'trustedRoot'] as const;

export async function readPolicyFile(path: string): Promise<ImportPolicy> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const io = ioError(err, 'read the policy', path);
    throw new AirlockError('POLICY_INVALID', io.message, { cause: err, where: path, hint: '--policy takes a YAML policy file (see README "Import policy")' });
  }
  return parsePolicy(bytes, path);
}

export function parsePolicy(bytes: Buffer, file: string): ImportPolicy {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (bytes.length > MAX_POLICY_BYTES) {
    throw new AirlockError('POLICY_INVALID', `the policy is larger than ${MAX_POLICY_BYTES} bytes`, { where: `${file}:1:1` });
  }
  const text = bytes.toString('utf8');
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true, version: '1.2' });
  const r = new YamlReader(file, doc, lines, 'POLICY_INVALID');
  for (const e of [...doc.errors, ...doc.warnings]) r.problem(r.whereAt(e.pos[0]), yamlMessage(e), yamlHint(e));
  let rules: PolicyRule[] | undefined;
  if (doc.errors.every((e) => e.code === 'DUPLICATE_KEY')) rules = readPolicy(r, doc.contents, dirname(resolve(file)));
  if (rules && r.problems.length === 0) return { version: 1, path: file, digest, rules };
  const problems = sortByPosition(r.problems);
  const n = problems.length;
  throw new MultiError('POLICY_INVALID', `invalid policy ${file}: ${n} problem${n === 1 ? '' : 's'}`, problems, {
    where: problems[0]?.where ?? file,
    hint: 'fix every problem listed; nothing was imported',
  });
}

function readPolicy(r: YamlReader, contents: unknown, baseDir: string): PolicyRule[] | undefined {
  const top = r.whereAt(0);
  if (r.isNull(contents)) {
    r.problem(top, 'the policy is empty', 'start it with `version: 1` and a list of `rules:`');
    return undefined;
  }
  const root = r.map(contents, 'the policy', ROOT_KEYS, top);
  if (!root) return undefined;
  const v = root.get('version');
  if (!v) {
    if (root.lacks('version')) r.problem(r.whereOf(contents, top), 'missing `version: 1`', 'add `version: 1` as the first line');
  } else {
    const value = r.resolve(v.value, v.where);
    if (!(isScalar(value) && value.value === 1)) r.problem(r.whereOf(value, v.where), `unsupported policy version: ${describe(value)}`, 'this airlock reads `version: 1`');
  }
  const rulesField = root.get('rules');
  if (!rulesField) {
    if (root.lacks('rules')) r.problem(r.whereOf(contents, top), 'missing `rules:`', 'list at least one rule, e.g. `- kind: registries` with `allow: [ghcr.io]`');
    return undefined;
  }
  const items = r.seq(rulesField.value, '`rules`', rulesField.where);
  if (!items) return undefined;
  if (items.length === 0) r.problem(r.whereOf(rulesField.value, rulesField.where), '`rules` is empty', 'a policy with no rules would allow everything: list at least one');
  const out: PolicyRule[] = [];
  items.forEach((item, index) => {
    const rule = readRule(r, item, index, rulesField.where, baseDir);
    if (rule) out.push(rule);
  });
  return out;
}

function readRule(r: YamlReader, node: unknown, index: number, fallback: string, baseDir: string): PolicyRule | undefined {
  const where = r.whereOf(node, fallback);
  const all = [...new Set(Object.values(RULE_KEYS).flat())];
  const m = r.map(node, `rule ${index + 1}`, all, where);
  if (!m) return undefined;
  const kindField = m.get('kind');
  if (!kindField) {
    if (m.lacks('kind')) r.problem(where, `rule ${index + 1} has no \`kind\``, `one of: ${POLICY_RULE_KINDS.join(', ')}`);
    return undefined;
  }
  const kind = r.string(kindField.value, '`kind`', kindField.where);
  if (kind === undefined) return undefined;
  if (!(POLICY_RULE_KINDS as readonly string[]).includes(kind)) {
    r.problem(r.whereOf(kindField.value, kindField.where), `unknown rule kind \`${kind}\``, `one of: ${POLICY_RULE_KINDS.join(', ')}`);
    return undefined;
  }
  const k = kind as PolicyRuleKind;
  for (const f of m.values()) {
    if (!RULE_KEYS[k].includes(f.name)) r.problem(f.where, `a \`${k}\` rule has no \`${f.name}\``, `its keys: ${RULE_KEYS[k].join(', ')}`);
  }
  const base = { where, index };
  switch (k) {
    case 'sbom':
    case 'provenance':
      return { ...base, kind: k, sources: readSources(r, m.get('sources')) };
    case 'registries': {
      const allow = readAllow(r, m.get('allow'), where, k);
      return allow ? { ...base, kind: k, allow } : undefined;
    }
    case 'platforms': {
      const allow = readAllow(r, m.get('allow'), where, k);
      if (!allow) return undefined;
      const platforms: string[] = [];
      for (const p of allow) {
        try {
          platforms.push(formatPlatform(parsePlatform(p, '`allow`')));
        } catch (err) {
          r.adopt(err, r.whereOf(m.get('allow')?.value, where), `\`${p}\` is not a platform`);
        }
      }
      return { ...base, kind: k, allow: platforms };
    }
    case 'signature':
      return readSignatureRule(r, m, base, baseDir);
  }
}

function readSignatureRule(r: YamlReader, m: Map<string, { where: string; value: unknown }>, base: RuleBase, baseDir: string): PolicyRule | undefined {
  const sources = readSources(r, m.get('sources'));
  const keyField = m.get('key');
  const keylessField = m.get('keyless');
  if (keyField && keylessField) {
    r.problem(keylessField.where, 'a `signature` rule has either `key` or `keyless`, not both', 'write two rules if either may sign');
    return undefined;
  }
  if (keyField) {
    const key = r.string(keyField.value, '`key`', keyField.where);
    return key ? { ...base, kind: 'signature', sources, key: resolve(baseDir, key) } : undefined;
  }
  if (!keylessField) {
    r.problem(base.where, 'a `signature` rule needs `key` or `keyless`', 'key: ./vendor.pub, or keyless: { identity: ID, issuer: URL }');
    return undefined;
  }
  const k = r.map(keylessField.value, '`keyless`', KEYLESS_KEYS, keylessField.where);
  if (!k) return undefined;
  const out: Record<string, string> = {};
  for (const name of KEYLESS_KEYS) {
    const f = k.get(name);
    if (!f) continue;
    const v = r.string(f.value, `\`${name}\``, f.where);
    if (v === undefined) continue;
    if (name === 'identityRegexp' || name === 'issuerRegexp') {
      try {
        new RegExp(v);
      } catch (err) {
        r.problem(r.whereOf(f.value, f.where), `\`${v}\` is not a valid regular expression`, 'JavaScript RegExp syntax; unanchored as cosign\'s (write ^...$ for a whole match)', err);
        continue;
      }
    }
    out[name] = name === 'trustedRoot' ? resolve(baseDir, v) : v;
  }
  if (out['identity'] !== undefined && out['identityRegexp'] !== undefined) r.problem(keylessField.where, '`keyless` has either `identity` or `identityRegexp`, not both', 'identity matches exactly; identityRegexp is an unanchored pattern');
  if (out['issuer'] !== undefined && out['issuerRegexp'] !== undefined) r.problem(keylessField.where, '`keyless` has either `issuer` or `issuerRegexp`, not both', 'issuer matches exactly; issuerRegexp is an unanchored pattern');
  if (out['identity'] === undefined && out['identityRegexp'] === undefined && k.lacks('identity') && k.lacks('identityRegexp')) {
    r.problem(keylessField.where, '`keyless` needs `identity` or `identityRegexp`', 'any identity from an issuer would accept anyone\'s signature made through it');
  }
  if (out['issuer'] === undefined && out['issuerRegexp'] === undefined && k.lacks('issuer') && k.lacks('issuerRegexp')) {
    r.problem(keylessField.where, '`keyless` needs `issuer` or `issuerRegexp`', 'e.g. issuer: https://token.actions.githubusercontent.com');
  }
  return { ...base, kind: 'signature', sources, keyless: out as PolicyKeyless };
}

function readSources(r: YamlReader, field: { where: string; value: unknown } | undefined): readonly string[] {
  if (!field) return ['**'];
  const list = stringList(r, field, '`sources`');
  for (const g of list) {
    if (g.includes('@') || /:[^/]*$/.test(g.split('/').slice(1).join('/'))) {
      r.problem(r.whereOf(field.value, field.where), `\`${g}\` names a tag or digest; sources are repositories`, 'e.g. ghcr.io/vendor/* or ghcr.io/vendor/**');
    }
  }
  return list.length > 0 ? list : ['**'];
}

function readAllow(r: YamlReader, field: { where: string; value: unknown } | undefined, where: string, kind: string): string[] | undefined {
  if (!field) {
    r.problem(where, `a \`${kind}\` rule needs \`allow\``, kind === 'registries' ? 'allow: [ghcr.io, quay.io]' : 'allow: [linux/amd64, linux/arm64]');
    return undefined;
  }
  const list = stringList(r, field, '`allow`');
  if (list.length === 0) {
    r.problem(r.whereOf(field.value, field.where), '`allow` is empty', 'an empty list would refuse everything; list what is allowed');
    return undefined;
  }
  return list;
}

/** A string or a list of strings. */
function stringList(r: YamlReader, field: { where: string; value: unknown }, what: string): string[] {
  const value = r.resolve(field.value, field.where);
  if (isScalar(value)) {
    const s = r.string(value, what, field.where);
    return s === undefined ? [] : [s];
  }
  const items = r.seq(value, what, field.where) ?? [];
  const out: string[] = [];
  for (const item of items) {
    const s = r.string(item, `an item of ${what}`, r.whereOf(value, field.where));
    if (s !== undefined) out.push(s);
  }
  return out;
}

/**
 * Glob over `registry/repository`: `*` any characters but `/`, `**` any characters, `?` one
 * character but `/`. Anchored: `ghcr.io/vendor/*` matches `ghcr.io/vendor/app` only, not
 * `ghcr.io/vendor/app/sub` (that is `ghcr.io/vendor/**`).
 */
export function globMatch(glob: string, subject: string): boolean {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`).test(subject);
}

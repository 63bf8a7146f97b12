/**
 * A checker for k3s/RKE2 `registries.yaml` against its documented schema
 * (https://docs.k3s.io/installation/private-registry), as k3s reads it: the `Registry` struct of
 * rancher/wharfie `pkg/registries` (mirrors.<name> { endpoint: []string, rewrite: map[string]string },
 * configs.<host> { auth { username, password, auth, identity_token }, tls { ca_file, cert_file,
 * key_file, insecure_skip_verify: bool } }) decoded with gopkg.in/yaml.v2. That decoder ignores
 * unknown keys silently and fails the whole file on a wrong type, so both are problems here. No k3s
 * runs on these machines; this is the format check the issue asks for where no real parser is at hand.
 */
import { isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';

const MIRROR_KEYS = new Set(['endpoint', 'rewrite']);
const CONFIG_KEYS = new Set(['auth', 'tls']);
const AUTH_KEYS = new Set(['username', 'password', 'auth', 'identity_token']);
const TLS_STRING_KEYS = new Set(['ca_file', 'cert_file', 'key_file']);

export interface K3sRegistries {
  readonly mirrors: Record<string, { endpoint: string[]; rewrite: Record<string, string> }>;
  readonly configs: Record<string, { tls?: Record<string, string | boolean>; auth?: Record<string, string> }>;
}

/** Problems found (empty: the file is valid), and the decoded content. */
export function checkK3sRegistries(text: string): { problems: string[]; value: K3sRegistries } {
  const problems: string[] = [];
  const value: { mirrors: K3sRegistries['mirrors']; configs: K3sRegistries['configs'] } = { mirrors: {}, configs: {} };
  const doc = parseDocument(text, { uniqueKeys: true });
  for (const e of doc.errors) problems.push(`YAML: ${e.message}`);
  if (problems.length > 0) return { problems, value };
  const root = doc.contents;
  if (root === null) return { problems, value };
  if (!isMap(root)) return { problems: ['the document is not a mapping'], value };
  const entries = (node: Node | null, where: string): [string, Node | null][] => {
    if (node === null || (isScalar(node) && node.value === null)) return [];
    if (!isMap(node)) {
      problems.push(`${where}: not a mapping`);
      return [];
    }
    return node.items.map((p) => [String(isScalar(p.key) ? p.key.value : p.key), (p.value ?? null) as Node | null]);
  };
  const str = (node: Node | null, where: string): string | undefined => {
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    problems.push(`${where}: not a string`);
    return undefined;
  };
  for (const [key, node] of entries(root, 'top level')) {
    if (key === 'mirrors') {
      for (const [name, m] of entries(node, 'mirrors')) {
        const mirror = { endpoint: [] as string[], rewrite: {} as Record<string, string> };
        value.mirrors[name] = mirror;
        for (const [k, v] of entries(m, `mirrors.${name}`)) {
          if (!MIRROR_KEYS.has(k)) problems.push(`mirrors.${name}.${k}: unknown key (k3s ignores it)`);
          else if (k === 'endpoint') {
            if (!isSeq(v)) problems.push(`mirrors.${name}.endpoint: not a list`);
            else {
              for (const [i, item] of v.items.entries()) {
                const url = str(item as Node, `mirrors.${name}.endpoint[${i}]`);
                if (url === undefined) continue;
                mirror.endpoint.push(url);
                let u: URL | undefined;
                try {
                  u = new URL(url);
                } catch {
                  problems.push(`mirrors.${name}.endpoint[${i}]: "${url}" is not a URL`);
                }
                if (u && u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`mirrors.${name}.endpoint[${i}]: scheme ${u.protocol} (http or https)`);
              }
            }
          } else {
            for (const [pattern, r] of entries(v, `mirrors.${name}.rewrite`)) {
              const replacement = str(r, `mirrors.${name}.rewrite.${pattern}`);
              if (replacement !== undefined) mirror.rewrite[pattern] = replacement;
              try {
                new RegExp(pattern);
              } catch {
                problems.push(`mirrors.${name}.rewrite: "${pattern}" is not a regular expression`);
              }
            }
          }
        }
      }
    } else if (key === 'configs') {
      for (const [host, c] of entries(node, 'configs')) {
        const config: K3sRegistries['configs'][string] = {};
        value.configs[host] = config;
        for (const [k, v] of entries(c, `configs.${host}`)) {
          if (!CONFIG_KEYS.has(k)) {
            problems.push(`configs.${host}.${k}: unknown key (k3s ignores it)`);
            continue;
          }
          const fields: Record<string, string | boolean> = {};
          for (const [f, fv] of entries(v, `configs.${host}.${k}`)) {
            const where = `configs.${host}.${k}.${f}`;
            if (k === 'tls' && f === 'insecure_skip_verify') {
              if (isScalar(fv) && typeof fv.value === 'boolean') fields[f] = fv.value;
              else problems.push(`${where}: not a boolean`);
            } else if ((k === 'tls' ? TLS_STRING_KEYS : AUTH_KEYS).has(f)) {
              const s = str(fv, where);
              if (s !== undefined) fields[f] = s;
            } else problems.push(`${where}: unknown key (k3s ignores it)`);
          }
          if (k === 'tls') config.tls = fields;
          else config.auth = fields as Record<string, string>;
        }
      }
    } else problems.push(`${key}: unknown top-level key (k3s reads mirrors and configs)`);
  }
  return { problems, value };
}

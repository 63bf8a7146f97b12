/**
 * Vendor deployment files rewritten to the mirror (issue 19, seeds 000 and 004): a Helm values file
 * (`release-values.yaml` → `release-values.mirrored.yaml`) and a Compose file with its `.env`. Only
 * the registry location of images this import mirrored changes; tags and digests stay as the vendor
 * wrote them ("Do not replace digest pins with latest"), except a digest of an index that export
 * filtered to some platforms, which becomes the filtered index's (seed 004: "update only the
 * registry location and mirrored digests"). The edits are spliced into the original
 * text at the positions the yaml library's Document API reports, so comments, key order, quoting
 * and blank lines stay as they were.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Scalar } from 'yaml';
import { AirlockError } from '../errors.js';
import { parseReference, type Reference } from '../reference/index.js';

/** Where one upstream repository landed. */
export interface MirroredRepository {
  readonly sourceRegistry: string;
  readonly sourceRepository: string;
  /** `host[:port]` of the target. */
  readonly targetHost: string;
  /** Repository path in the target (prefix included). */
  readonly targetRepository: string;
  /**
   * Upstream digest → the digest in the target, where they differ: an index export filtered to
   * some platforms (`--platform`) is a new index, and the vendor's pin names one the mirror lacks.
   */
  readonly digests?: ReadonlyMap<string, string>;
}

export interface RewriteChange {
  /** Values path (`bff.image.repository`) or Compose path (`services.api.image`), or `.env REGISTRY`. */
  readonly path: string;
  readonly from: string;
  readonly to: string;
}

export interface RewriteResult {
  readonly text: string;
  readonly changes: readonly RewriteChange[];
  /** Images the file names that this import did not mirror (left as they were). */
  readonly notMirrored: readonly { readonly path: string; readonly ref: string }[];
  /** `.env` text, rewritten (Compose only, when one was given). */
  readonly env?: string;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

class Rewriter {
  readonly edits: Edit[] = [];
  readonly changes: RewriteChange[] = [];
  readonly notMirrored: { path: string; ref: string }[] = [];
  readonly #by = new Map<string, MirroredRepository>();

  constructor(mirrored: readonly MirroredRepository[]) {
    for (const m of mirrored) {
      const key = `${m.sourceRegistry}/${m.sourceRepository}`;
      const earlier = this.#by.get(key);
      // One repository, several artifacts: one location, and every digest any of them replaced.
      const digests = new Map([...(earlier?.digests ?? []), ...(m.digests ?? [])]);
      this.#by.set(key, { ...(earlier ?? m), ...(digests.size > 0 ? { digests } : {}) });
    }
  }

  /** A digest pin as the mirror holds it: the same, unless export filtered that index. */
  digest(m: MirroredRepository, digest: string): string {
    return m.digests?.get(digest) ?? digest;
  }

  /** Every digest pin written literally in `text` (`...@sha256:<hex>`), as the mirror holds it. */
  digestsIn(text: string, m: MirroredRepository): string {
    return text.replace(/sha256:[a-f0-9]{64}/g, (d) => this.digest(m, d));
  }

  suffix(ref: Reference, m: MirroredRepository): string {
    return `${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${this.digest(m, ref.digest)}` : ''}`;
  }

  lookup(ref: Reference): MirroredRepository | undefined {
    return this.#by.get(`${ref.registry}/${ref.repository}`);
  }

  set(node: Scalar, value: string, path: string): void {
    const from = String(node.value);
    if (from === value || !node.range) return;
    this.edits.push({ start: node.range[0], end: node.range[1], text: renderScalar(node, value) });
    this.changes.push({ path, from, to: value });
  }

  apply(text: string): string {
    let out = text;
    for (const e of [...this.edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
    return out;
  }
}

/** A scalar written back in the style it had: plain when that stays plain, else quoted as it was. */
function renderScalar(node: Scalar, value: string): string {
  switch (node.type) {
    case 'QUOTE_SINGLE':
      return `'${value.replace(/'/g, "''")}'`;
    case 'QUOTE_DOUBLE':
      return JSON.stringify(value);
    default:
      return staysPlain(value, node.value) ? value : JSON.stringify(value);
  }
}

/** A plain scalar may stay plain when it reads back as the same string, of the same kind the old one was. */
function staysPlain(value: string, old: unknown): boolean {
  if (value === '' || /[\n\r]/.test(value)) return false;
  const probe = parseDocument(`x: ${value}\n`, { prettyErrors: false });
  if (probe.errors.length > 0) return false;
  const read = probe.get('x');
  return read === value || (typeof old !== 'string' && String(read) === value);
}

function parse(text: string, where: string): Document {
  const lines = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: false, lineCounter: lines, prettyErrors: false, keepSourceTokens: false });
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    throw new AirlockError('USAGE', `YAML: ${(first.message.split('\n')[0] ?? first.message).replace(/ at line \d+, column \d+:?$/, '')}`, {
      where: `${where}:${pos.line}:${pos.col}`, hint: 'the file is not valid YAML: fix it, or leave it out of --values/--compose',
    });
  }
  return doc;
}

function stringScalar(node: unknown): (Scalar & { value: string }) | undefined {
  return isScalar(node) && typeof node.value === 'string' ? (node as Scalar & { value: string }) : undefined;
}

function tryReference(text: string): Reference | undefined {
  if (text === '' || /[{}$\s]/.test(text)) return undefined;
  try {
    return parseReference(text);
  } catch {
    return undefined;
  }
}

/** Does a first path component name a registry (`ghcr.io`, `localhost:5000`) rather than a namespace? */
function hasRegistry(name: string): boolean {
  const first = name.split('/')[0] ?? '';
  return name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
}

/**
 * A Helm values file: every image block (`repository` with `registry`/`tag`/`digest`, or under a key
 * named like `image`) and every image string (`image: repo:tag`, `*Image:`) that names an image this
 * import mirrored points at the mirror. A block without its own `registry` is read through
 * `global.imageRegistry`, which is then set to the mirror's location for those images (seed 004:
 * `global.imageRegistry: registry.example.com/cloudgrid` with `repository: cloudgrid-bff`); blocks
 * that would need two different values of it are left as they were and reported.
 */
export function rewriteValues(text: string, mirrored: readonly MirroredRepository[], where: string): RewriteResult {
  const doc = parse(text, where);
  const rw = new Rewriter(mirrored);
  const globalNode = stringScalar(doc.getIn(['global', 'imageRegistry'], true));
  const globalValue = globalNode?.value.trim() || undefined;
  const viaGlobal: { path: string; ref: string; registry: string; repoNode: Scalar & { value: string } }[] = [];

  const walk = (node: unknown, path: string, key: string): void => {
    if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, `${path}[${i}]`, key));
      return;
    }
    if (!isMap(node)) return;
    const fields = new Map<string, unknown>();
    for (const pair of node.items) {
      if (isPair(pair) && isScalar(pair.key)) fields.set(String(pair.key.value), pair.value);
    }
    const repoNode = stringScalar(fields.get('repository'));
    const isImageBlock = repoNode !== undefined && (fields.has('tag') || fields.has('digest') || fields.has('registry') || /image$/i.test(key));
    if (isImageBlock && repoNode) {
      const m = imageBlock(repoNode, stringScalar(fields.get('registry')), path);
      const digestNode = stringScalar(fields.get('digest'));
      if (m && digestNode) rw.set(digestNode, rw.digest(m, digestNode.value.trim()), `${path}.digest`);
    }
    for (const [k, v] of fields) {
      const p = path ? `${path}.${k}` : k;
      const s = stringScalar(v);
      if (s && (k === 'image' || /Image$/.test(k))) imageString(s, p);
      else if (!s) walk(v, p, k);
    }
  };

  const imageBlock = (repoNode: Scalar & { value: string }, regNode: (Scalar & { value: string }) | undefined, path: string): MirroredRepository | undefined => {
    const repo = repoNode.value.trim();
    const reg = regNode?.value.trim();
    if (reg) {
      const ref = tryReference(`${reg}/${repo}`);
      const m = ref && rw.lookup(ref);
      if (!ref || !m) return void rw.notMirrored.push({ path, ref: `${reg}/${repo}` });
      rw.set(regNode!, m.targetHost, `${path}.registry`);
      rw.set(repoNode, `${m.targetRepository}${rw.suffix(ref, m)}`, `${path}.repository`);
      return m;
    }
    if (!hasRegistry(repo) && globalValue) {
      const ref = tryReference(`${globalValue}/${repo}`);
      const m = ref && rw.lookup(ref);
      if (!m) return void rw.notMirrored.push({ path, ref: `${globalValue}/${repo}` });
      viaGlobal.push({ path, ref: `${globalValue}/${repo}`, registry: globalValue, repoNode });
      return m;
    }
    const ref = tryReference(repo);
    const m = ref && rw.lookup(ref);
    if (!ref || !m) return void rw.notMirrored.push({ path, ref: repo });
    rw.set(repoNode, `${m.targetHost}/${m.targetRepository}${rw.suffix(ref, m)}`, `${path}.repository`);
    return m;
  };

  const imageString = (node: Scalar & { value: string }, path: string): void => {
    const ref = tryReference(node.value.trim());
    if (!ref) return;
    const m = rw.lookup(ref);
    if (!m) return void rw.notMirrored.push({ path, ref: node.value.trim() });
    rw.set(node, `${m.targetHost}/${m.targetRepository}${rw.suffix(ref, m)}`, path);
  };

  walk(doc.contents, '', '');

  // global.imageRegistry: one new value that puts every block read through it at its mirrored place.
  if (globalNode && viaGlobal.length > 0) {
    const wanted = new Map<string, string[]>();
    for (const v of viaGlobal) {
      const ref = tryReference(v.ref)!;
      const m = rw.lookup(ref)!;
      const repo = v.repoNode.value.trim().replace(/[:@].*$/, '');
      const target = `${m.targetHost}/${m.targetRepository}`;
      const value = target.endsWith(`/${repo}`) ? target.slice(0, -(repo.length + 1)) : undefined;
      if (value === undefined) {
        rw.notMirrored.push({ path: v.path, ref: v.ref });
        continue;
      }
      wanted.set(value, [...(wanted.get(value) ?? []), v.path]);
    }
    if (wanted.size === 1) {
      rw.set(globalNode, [...wanted.keys()][0]!, 'global.imageRegistry');
    } else if (wanted.size > 1) {
      for (const paths of wanted.values()) for (const p of paths) rw.notMirrored.push({ path: p, ref: `${globalValue}/… (global.imageRegistry would need ${wanted.size} values)` });
    }
  }
  return { text: rw.apply(text), changes: rw.changes, notMirrored: rw.notMirrored };
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** `.env` as Compose reads it: KEY=VALUE lines, `#` comments, optional quotes. */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line.replace(/\r$/, ''));
    if (!m) continue;
    let v = m[2]!;
    if (/^".*"$/.test(v) || /^'.*'$/.test(v)) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, '');
    out.set(m[1]!, v);
  }
  return out;
}

function interpolate(text: string, env: ReadonlyMap<string, string>): string {
  return text.replace(VAR, (_m, name: string | undefined, op: string | undefined, dflt: string | undefined, bare: string | undefined) => {
    const key = (name ?? bare)!;
    const v = env.get(key);
    if (op === ':-') return v === undefined || v === '' ? dflt ?? '' : v;
    if (op === '-') return v ?? dflt ?? '';
    return v ?? '';
  });
}

/**
 * A Compose file's `services.*.image` and its `.env`: a literal image name is replaced; an image
 * whose registry part is a variable (`${REGISTRY:-ghcr.io/sentari-dev/sentari}/server:${VERSION}`,
 * seed 000) keeps the variable, and the variable's value in `.env` and its default in the file are
 * set to the mirror's location, once for every image that uses it.
 */
export function rewriteCompose(text: string, envText: string | undefined, mirrored: readonly MirroredRepository[], where: string): RewriteResult {
  const doc = parse(text, where);
  const rw = new Rewriter(mirrored);
  const env = parseEnvFile(envText ?? '');
  const varValues = new Map<string, Set<string>>();
  const services = doc.get('services', true);
  const pending: { node: Scalar & { value: string }; path: string; variable: string; m: MirroredRepository }[] = [];
  if (isMap(services)) {
    for (const pair of services.items) {
      if (!isPair(pair) || !isScalar(pair.key) || !isMap(pair.value)) continue;
      const path = `services.${String(pair.key.value)}.image`;
      const node = stringScalar(pair.value.get('image', true));
      if (!node) continue;
      const raw = node.value.trim();
      const effective = interpolate(raw, env);
      const ref = tryReference(effective);
      const m = ref && rw.lookup(ref);
      if (!ref || !m) {
        rw.notMirrored.push({ path, ref: effective });
        continue;
      }
      const lead = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}\/(.*)$/.exec(raw) ?? /^\$([A-Za-z_][A-Za-z0-9_]*)\/(.*)$/.exec(raw);
      if (lead) {
        // The registry part is a variable: its new value is the mirrored repository less the rest of the name.
        const rest = interpolate(lead[2]!, env).replace(/@.*$/, '').replace(/:[^/]*$/, '');
        const target = `${m.targetHost}/${m.targetRepository}`;
        if (!target.endsWith(`/${rest}`)) {
          rw.notMirrored.push({ path, ref: effective });
          continue;
        }
        const value = target.slice(0, -(rest.length + 1));
        const variable = lead[1]!;
        varValues.set(variable, new Set([...(varValues.get(variable) ?? []), value]));
        pending.push({ node, path, variable, m });
        continue;
      }
      if (raw.includes('$')) {
        // Variables in the tag only: the name before them is literal and is replaced.
        const name = raw.replace(/[:@][^/]*$/, '');
        if (name.includes('$')) {
          rw.notMirrored.push({ path, ref: effective });
          continue;
        }
        rw.set(node, `${m.targetHost}/${m.targetRepository}${rw.digestsIn(raw.slice(name.length), m)}`, path);
        continue;
      }
      rw.set(node, `${m.targetHost}/${m.targetRepository}${rw.suffix(ref, m)}`, path);
    }
  }
  const newValue = new Map<string, string>();
  for (const [variable, values] of varValues) {
    if (values.size === 1) newValue.set(variable, [...values][0]!);
  }
  for (const p of pending) {
    const v = newValue.get(p.variable);
    if (v === undefined) {
      rw.notMirrored.push({ path: p.path, ref: `${p.variable} would need ${varValues.get(p.variable)?.size ?? 0} values` });
      continue;
    }
    // A default in the file (`${REGISTRY:-x}`) becomes the mirror too, so the file works without .env.
    const replaced = rw.digestsIn(p.node.value.replace(new RegExp(`^\\$\\{${p.variable}(:?-)[^}]*\\}`), (_m, op: string) => `\${${p.variable}${op}${v}}`), p.m);
    rw.set(p.node, replaced, p.path);
  }
  let envOut: string | undefined;
  if (envText !== undefined) {
    const lines = envText.split('\n');
    const seen = new Set<string>();
    envOut = lines.map((line) => {
      const m = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)(.*)$/.exec(line);
      const v = m ? newValue.get(m[2]!) : undefined;
      if (!m || v === undefined) return line;
      seen.add(m[2]!);
      const old = m[4]!.replace(/\r$/, '');
      const quote = /^["']/.test(old) ? old[0]! : '';
      if (old.replace(/^["']|["']$/g, '') !== v) rw.changes.push({ path: `.env ${m[2]}`, from: old, to: v });
      return `${m[1]}${m[2]}${m[3]}${quote}${v}${quote}${line.endsWith('\r') ? '\r' : ''}`;
    }).join('\n');
    const missing = [...newValue].filter(([k]) => !seen.has(k));
    if (missing.length > 0) envOut = `${envOut}${envOut.endsWith('\n') || envOut === '' ? '' : '\n'}${missing.map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
  }
  return { text: rw.apply(text), changes: rw.changes, notMirrored: rw.notMirrored, ...(envOut !== undefined ? { env: envOut } : {}) };
}

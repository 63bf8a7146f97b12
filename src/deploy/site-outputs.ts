/**
 * Import's deploy-ready outputs beyond the mirror configs (issue 19): vendor values and Compose
 * files rewritten to the mirror (`--values`, `--compose`) and the pull secret. The release record,
 * which joins the bundle's artifacts and the release-file checks, is written by ops/release-record.ts.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { AirlockError, ioError, isAirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import { writeFileAtomic } from '../util/index.js';
import type { MappedArtifact } from './outputs.js';
import type { MirroredRepository, RewriteChange } from './rewrite.js';
import { pullSecretYaml } from './site-files.js';

/** A values or Compose file is a hand-sized text file. */
const MAX_DEPLOY_FILE = 4 * 1024 * 1024;

export interface DeployInput {
  readonly kind: 'values' | 'compose';
  readonly path: string;
  readonly text: string;
  /** Compose: the `.env` beside the file, when there is one. */
  readonly env?: string;
  /** `NAME.mirrored.EXT` under out-dir. */
  readonly outName: string;
}

/**
 * rewrite.js and the yaml library it parses with, loaded only when there is a `--values` or
 * `--compose` file: an import without one (the usual case, a no-op re-import among them) does not
 * pay for compiling them (docs/BENCHMARKS.md, no-op re-import).
 */
const loadRewrite = (): Promise<typeof import('./rewrite.js')> => import('./rewrite.js');

/**
 * Read every `--values` and `--compose` file before anything is pushed, and check that it is YAML:
 * a missing or broken file stops the import with exit 2 instead of after the push.
 */
export async function readDeployInputs(values: readonly string[], compose: readonly string[]): Promise<DeployInput[]> {
  const out: DeployInput[] = [];
  const names = new Map<string, string>();
  for (const [kind, paths] of [['values', values], ['compose', compose]] as const) {
    for (const path of paths) {
      const text = await readText(path, `--${kind}`);
      const { rewriteCompose, rewriteValues } = await loadRewrite();
      if (kind === 'values') rewriteValues(text, [], path);
      else rewriteCompose(text, undefined, [], path);
      const env = kind === 'compose' ? await readFile(join(dirname(path), '.env'), 'utf8').catch(() => undefined) : undefined;
      const ext = extname(path) || '.yaml';
      const outName = `${basename(path, ext)}.mirrored${ext}`;
      const earlier = names.get(outName);
      if (earlier) throw new AirlockError('USAGE', `${path} and ${earlier} would both be written as ${outName}`, { hint: 'rename one of them' });
      names.set(outName, path);
      out.push({ kind, path, text, outName, ...(env !== undefined ? { env } : {}) });
    }
  }
  return out;
}

async function readText(path: string, flag: string): Promise<string> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new AirlockError('USAGE', `${flag} ${path} is not a file`, { where: path });
    if (s.size > MAX_DEPLOY_FILE) throw new AirlockError('USAGE', `${flag} ${path} is ${s.size} bytes; a values or Compose file is at most ${MAX_DEPLOY_FILE}`, { where: path });
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isAirlockError(err)) throw err;
    throw new AirlockError('USAGE', `${flag} ${path} cannot be read: ${(err as Error).message}`, { where: path, cause: err, hint: 'name an existing file' });
  }
}

export interface RewrittenFile {
  readonly kind: 'values' | 'compose';
  readonly file: string;
  /** Under out-dir. */
  readonly written: string;
  readonly env?: string;
  readonly changes: readonly RewriteChange[];
  readonly notMirrored: readonly { readonly path: string; readonly ref: string }[];
}

/** Rewrite each input to where its images landed and write `NAME.mirrored.EXT` (and `NAME.mirrored.env`). */
export async function writeRewrittenFiles(outDir: string, host: string, inputs: readonly DeployInput[], mapped: readonly MappedArtifact[], logger: Logger): Promise<RewrittenFile[]> {
  const mirrored: MirroredRepository[] = mapped.filter((a) => a.kind === 'image' || a.kind === 'chart').map((a) => {
    // `source` ends in the upstream digest; a platform-filtered index landed under another.
    const upstream = a.source.slice(a.source.lastIndexOf('@') + 1);
    return {
      sourceRegistry: a.sourceRegistry, sourceRepository: a.sourceRepository, targetHost: host, targetRepository: a.targetRepository,
      ...(upstream.startsWith('sha256:') && upstream !== a.digest ? { digests: new Map([[upstream, a.digest]]) } : {}),
    };
  });
  const out: RewrittenFile[] = [];
  for (const input of inputs) {
    const { rewriteCompose, rewriteValues } = await loadRewrite();
    const r = input.kind === 'values' ? rewriteValues(input.text, mirrored, input.path) : rewriteCompose(input.text, input.env, mirrored, input.path);
    await writeFileAtomic(join(outDir, input.outName), r.text);
    let envName: string | undefined;
    if (r.env !== undefined) {
      envName = `${basename(input.outName, extname(input.outName))}.env`;
      await writeFileAtomic(join(outDir, envName), r.env);
    }
    for (const n of r.notMirrored) logger.warn(`${input.path}: ${n.path} names ${n.ref}, which this import did not mirror; left as it was`);
    out.push({ kind: input.kind, file: input.path, written: input.outName, ...(envName ? { env: envName } : {}), changes: r.changes, notMirrored: r.notMirrored });
  }
  return out;
}

/** `pull-secret.yaml`, mode 0600. */
export async function writePullSecret(outDir: string, o: Parameters<typeof pullSecretYaml>[0]): Promise<string> {
  const path = join(outDir, 'pull-secret.yaml');
  try {
    await writeFileAtomic(path, pullSecretYaml(o), 0o600);
  } catch (err) {
    throw ioError(err, 'write', path);
  }
  return 'pull-secret.yaml';
}

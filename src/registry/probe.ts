import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { CallOptions } from '../content/index.js';
import { isAirlockError } from '../errors.js';
import { isRepositoryRefusal } from './errors.js';
import {
  MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_EMPTY, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_OCI_MANIFEST, digestOf, type Descriptor,
} from '../oci/index.js';
import { repositoryScope } from './auth.js';
import type { RegistryHost } from './host.js';
import { referrersTag } from './referrers.js';
import type { ProbeResult } from './types.js';
import { uploadBlob } from './upload.js';

const PROBE_ARTIFACT_TYPE = 'application/vnd.airlock.probe.v1';
/** Repository paths are tried this deep (components from the registry root) for `maxPathDepth`. */
const PROBE_MAX_DEPTH = 8;

function blob(mediaType: string, data: Buffer): { desc: Descriptor; data: Buffer } {
  return { desc: { mediaType, digest: digestOf(data), size: data.length }, data };
}

function json(mediaType: string, doc: unknown): { desc: Descriptor; data: Buffer } {
  return blob(mediaType, Buffer.from(JSON.stringify(doc)));
}

/**
 * How deep may repository paths go? Upload sessions are opened (and cancelled: nothing is stored)
 * at ever deeper paths below the scratch repository until one is refused. Quay without nested
 * repository names refuses a third component at its token service (NAME_INVALID, "Nested
 * repositories are not supported"); GitLab grants no access beyond the project path plus two
 * levels (docs: "Naming convention for your container images").
 */
async function probePathDepth(
  client: RegistryHost, scratch: string, result: { maxPathDepth?: number; pathDepthTried: number }, notes: string[], opts: CallOptions,
): Promise<void> {
  const base = scratch.split('/').length;
  for (let depth = base + 1; depth <= PROBE_MAX_DEPTH; depth++) {
    const name = [scratch, ...Array.from({ length: depth - base }, (_, i) => `level${base + i + 1}`)].join('/');
    result.pathDepthTried = depth;
    try {
      await client.repository(name).checkPush(opts);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      if (isRepositoryRefusal(err)) {
        result.maxPathDepth = depth - 1;
        notes.push(`a repository path of ${depth} components was refused (${err.errors[0]?.code ?? err.code}): the deepest this registry takes is ${depth - 1}; choose --to and --layout so that every mapped path fits`);
      } else {
        notes.push(`path depth ${depth}: ${isAirlockError(err) ? `${err.code}: ${err.message}` : String(err)}`);
      }
      return;
    }
  }
}

/**
 * Find out what a registry supports by doing it on a scratch repository under `prefix`
 * (`PREFIX/airlock-probe-<random>`), then deleting what was written where the registry allows.
 */
export async function probeRegistry(client: RegistryHost, prefix: string, opts: CallOptions = {}): Promise<ProbeResult> {
  const notes: string[] = [];
  await client.ping(opts);
  const t = client.transport;
  const creds = await t.credentials();
  const suffix = randomBytes(4).toString('hex');
  const scratch = `${prefix ? `${prefix}/` : ''}airlock-probe-${suffix}`;
  const other = `${scratch}-mount`;
  const repo = client.repository(scratch);
  const repo2 = client.repository(other);

  const result = {
    registry: client.registry, repository: scratch, scheme: t.scheme, auth: client.authScheme ?? 'none',
    ...(creds ? { credentialsSource: creds.source } : {}),
    referrersApi: false, push: false, ociManifest: false, ociIndex: false, dockerManifest: false, dockerManifestList: false,
    ociArtifact: false, mount: false, monolithicUpload: false, chunkedUpload: false, delete: false, cleanedUp: false,
    pathDepthTried: 0,
  } as { -readonly [K in keyof Omit<ProbeResult, 'notes'>]: ProbeResult[K] };
  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      notes.push(`${what}: ${isAirlockError(err) ? `${err.code}: ${err.message}` : String(err)}`);
      return undefined;
    }
  };

  // Harbor keeps repositories in projects that must exist before anything is pushed (harbor.ts).
  if (await client.harbor.detect(opts)) {
    const project = scratch.split('/')[0]!;
    const exists = await attempt('Harbor project', () => client.harbor.projectExists(project, opts));
    if (exists !== undefined) {
      result.harbor = { project, projectExists: exists };
      if (!exists) notes.push(`this is Harbor and it has no project "${project}": create it, or import with --create-projects and credentials that may create projects`);
    }
  }

  result.referrersApi = (await attempt('referrers API', () => client.supportsReferrersApi(scratch, opts))) ?? false;

  const small = blob(MEDIA_TYPE_OCI_LAYER, randomBytes(1024));
  const big = blob(MEDIA_TYPE_OCI_LAYER, randomBytes(200 * 1024));
  const empty = blob(MEDIA_TYPE_OCI_EMPTY, Buffer.from('{}'));
  const ctx = {
    transport: t, repository: scratch, where: `${client.registry}/${scratch}`, scopes: [repositoryScope(scratch, 'pull,push')], signal: opts.signal,
  };
  result.monolithicUpload = (await attempt('monolithic upload', async () => {
    await uploadBlob({ ...ctx, chunkSize: 1 << 20, monolithicMax: 1 << 20 }, small.desc, Readable.from([small.data]));
    return true;
  })) ?? false;
  result.push = result.monolithicUpload;
  result.pathDepthTried = scratch.split('/').length;
  if (!result.push) {
    notes.push('pushing failed: the other write tests were skipped');
    return { ...result, notes };
  }
  await probePathDepth(client, scratch, result, notes, opts);
  result.chunkedUpload = (await attempt('chunked upload', async () => {
    await uploadBlob({ ...ctx, chunkSize: 64 * 1024, monolithicMax: 0 }, big.desc, Readable.from([big.data]));
    return repo.exists(big.desc, opts);
  })) ?? false;
  await attempt('config blob', () => repo.push(empty.desc, Readable.from([empty.data]), opts));

  const written: { repo: typeof repo; desc: Descriptor }[] = [];
  const putManifest = async (m: { desc: Descriptor; data: Buffer }, r = repo): Promise<boolean> => {
    await r.pushManifest(m.desc, m.data, m.desc.digest, opts);
    written.push({ repo: r, desc: m.desc });
    return true;
  };
  const ociManifest = json(MEDIA_TYPE_OCI_MANIFEST, {
    schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config: { ...empty.desc, mediaType: MEDIA_TYPE_OCI_CONFIG }, layers: [small.desc],
  });
  result.ociManifest = (await attempt('OCI image manifest', () => putManifest(ociManifest))) ?? false;
  const dockerManifest = json(MEDIA_TYPE_DOCKER_MANIFEST, {
    schemaVersion: 2, mediaType: MEDIA_TYPE_DOCKER_MANIFEST,
    config: { ...empty.desc, mediaType: MEDIA_TYPE_DOCKER_CONFIG }, layers: [{ ...small.desc, mediaType: MEDIA_TYPE_DOCKER_LAYER }],
  });
  result.dockerManifest = (await attempt('Docker schema 2 manifest', () => putManifest(dockerManifest))) ?? false;
  if (result.ociManifest) {
    const index = json(MEDIA_TYPE_OCI_INDEX, {
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [{ ...ociManifest.desc, platform: { os: 'linux', architecture: 'amd64' } }],
    });
    result.ociIndex = (await attempt('OCI index', () => putManifest(index))) ?? false;
    const artifact = json(MEDIA_TYPE_OCI_MANIFEST, {
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, artifactType: PROBE_ARTIFACT_TYPE,
      config: empty.desc, layers: [empty.desc], subject: ociManifest.desc,
    });
    result.ociArtifact = (await attempt('OCI artifact with subject', () => putManifest(artifact))) ?? false;
    if (result.ociArtifact && !result.referrersApi && client.referrersApi === true) result.referrersApi = true;
    if (result.ociArtifact && client.referrersApi !== true) {
      // The fallback index pushManifest wrote for the artifact.
      await attempt('referrers fallback tag', async () => {
        written.push({ repo, desc: await repo.resolve(referrersTag(ociManifest.desc.digest), opts) });
      });
    }
  }
  if (result.dockerManifest) {
    const list = json(MEDIA_TYPE_DOCKER_MANIFEST_LIST, {
      schemaVersion: 2, mediaType: MEDIA_TYPE_DOCKER_MANIFEST_LIST, manifests: [{ ...dockerManifest.desc, platform: { os: 'linux', architecture: 'amd64' } }],
    });
    result.dockerManifestList = (await attempt('Docker manifest list', () => putManifest(list))) ?? false;
  }
  result.mount = (await attempt('cross-repository mount', () => repo2.mount(small.desc, scratch, opts))) ?? false;

  // Clean up: manifests first (parents before children), then blobs.
  let allDeleted = true;
  for (const w of written.reverse()) {
    const ok = (await attempt(`delete ${w.desc.digest}`, () => w.repo.delete(w.desc, opts))) ?? false;
    allDeleted &&= ok;
  }
  for (const [r, d] of [[repo, small.desc], [repo, big.desc], [repo, empty.desc], ...(result.mount ? [[repo2, small.desc] as const] : [])] as const) {
    const ok = (await attempt(`delete blob ${d.digest}`, () => r.delete(d, opts))) ?? false;
    allDeleted &&= ok;
  }
  result.delete = allDeleted;
  result.cleanedUp = allDeleted;
  if (!allDeleted) notes.push(`the registry kept some probe content in ${scratch}: delete it there, or run its garbage collection`);
  return { ...result, notes };
}

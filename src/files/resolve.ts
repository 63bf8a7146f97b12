import type { LayoutStore } from '../layout/index.js';
import type { FileEntry } from '../mirror/index.js';
import { digestFromHex } from '../oci/index.js';
import { buildFileArtifact, type CarriedArtifact } from './artifact.js';
import { ingestPath, ingestUrl } from './ingest.js';

/** How to reach a host that serves files or charts: the mirror list's `registries:` settings for it. */
export interface HostSettings {
  readonly tls?: 'verify' | 'skip-verify' | 'plain-http';
  readonly certDir?: string;
}

export interface ResolveFileOptions {
  readonly cache: LayoutStore;
  /** Settings for a URL's `host[:port]`. Default: verify TLS with the system CAs. */
  readonly hostSettings?: (host: string) => HostSettings | undefined;
  readonly signal?: AbortSignal;
}

/**
 * A `files:` entry → its bytes in the cache (a url file checked against its sha256 while it
 * downloads) and the OCI artifact that carries it.
 */
export async function resolveFileEntry(entry: FileEntry, o: ResolveFileOptions): Promise<CarriedArtifact> {
  switch (entry.kind) {
    case 'path': {
      const blob = await ingestPath(entry.path, o.cache, entry.where, o.signal);
      return buildFileArtifact({ fileName: entry.name, digest: blob.digest, size: blob.size, origin: entry.name, where: entry.where });
    }
    case 'url': {
      const host = new URL(entry.url).host;
      const blob = await ingestUrl(entry.url, {
        cache: o.cache, where: entry.where, what: `file ${entry.name}`, expected: digestFromHex(entry.sha256),
        ...o.hostSettings?.(host), ...(o.signal ? { signal: o.signal } : {}),
      });
      return buildFileArtifact({ fileName: entry.name, digest: blob.digest, size: blob.size, origin: entry.url, where: entry.where });
    }
  }
}

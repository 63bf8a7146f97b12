import { extname } from 'node:path';
import {
  ANNOTATION_TITLE, MEDIA_TYPE_AIRLOCK_FILE, MEDIA_TYPE_OCI_EMPTY, MEDIA_TYPE_OCI_MANIFEST, digestOf, type Descriptor, type Digest,
} from '../oci/index.js';

/**
 * Content that is not pulled from a registry but carried as an OCI artifact made here: a file
 * (`files:`) or a chart from a classic repository. Its blobs are in the download cache by the
 * time it is planned; its manifest (and config) are made by airlock, so its digest is ours.
 */
export interface CarriedArtifact {
  readonly kind: 'file' | 'chart';
  /** `registry/repository` the artifact is filed under; files: `airlock/files` with no registry. */
  readonly repository: string;
  readonly registry: string;
  readonly repositoryPath: string;
  readonly tag: string;
  readonly manifest: { readonly desc: Descriptor; readonly bytes: Buffer };
  readonly config: { readonly desc: Descriptor; readonly bytes: Buffer };
  readonly layers: readonly Descriptor[];
  readonly artifactType?: string;
  /** Name delivered under out-dir/files/ (files) or out-dir/files/charts/ (classic charts). */
  readonly fileName: string;
  /** Where the bytes came from: the URL, or the local file's name. */
  readonly origin: string;
  /** Mirror list position. */
  readonly where: string;
}

/** Files are filed under this repository (below the prefix of `--to`) when pushed with --push-files. */
export const FILES_REPOSITORY = 'airlock/files';

/** The OCI empty descriptor's content: https://github.com/opencontainers/image-spec/blob/main/manifest.md#guidance-for-an-empty-descriptor */
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_DESCRIPTOR: Descriptor = { mediaType: MEDIA_TYPE_OCI_EMPTY, digest: digestOf(EMPTY_JSON), size: EMPTY_JSON.length };

const BY_EXTENSION: Readonly<Record<string, string>> = {
  '.json': 'application/json',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.xml': 'application/xml',
  '.html': 'text/html',
  '.sh': 'application/x-sh',
  '.tar': 'application/x-tar',
  '.tgz': 'application/gzip',
  '.gz': 'application/gzip',
  '.zst': 'application/zstd',
  '.zip': 'application/zip',
  '.pdf': 'application/pdf',
  '.pem': 'application/x-pem-file',
  '.crt': 'application/x-x509-ca-cert',
  '.pub': 'application/x-pem-file',
  '.asc': 'application/pgp-signature',
  '.sig': 'application/octet-stream',
  '.iso': 'application/x-iso9660-image',
  '.deb': 'application/vnd.debian.binary-package',
  '.rpm': 'application/x-rpm',
};

/** Media type of a file by its extension; `application/octet-stream` when unknown. */
export function mediaTypeForFile(name: string): string {
  return BY_EXTENSION[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** A tag that names the file: tags allow `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (distribution spec). */
export function tagForFile(name: string): string {
  let t = name.replace(/[^A-Za-z0-9._-]/g, '_');
  if (!/^[A-Za-z0-9_]/.test(t)) t = `_${t}`;
  return t.slice(0, 128);
}

export interface BuildFileArtifactOptions {
  readonly fileName: string;
  readonly digest: Digest;
  readonly size: number;
  /** Default: by extension if known, else application/vnd.airlock.file.v1. */
  readonly artifactType?: string;
  readonly origin: string;
  readonly where: string;
}

/**
 * An OCI 1.1 artifact manifest for one file, as `oras push` makes them
 * (https://github.com/opencontainers/image-spec/blob/main/manifest.md#guidelines-for-artifact-usage):
 * artifactType set, config the empty descriptor, one layer titled with the file name. No created
 * annotation, so one file always gives one manifest digest (and dedups across bundles).
 */
export function buildFileArtifact(o: BuildFileArtifactOptions): CarriedArtifact {
  const layerType = mediaTypeForFile(o.fileName);
  const artifactType = o.artifactType ?? (layerType === 'application/octet-stream' ? MEDIA_TYPE_AIRLOCK_FILE : layerType);
  const layer: Descriptor = { mediaType: layerType, digest: o.digest, size: o.size, annotations: { [ANNOTATION_TITLE]: o.fileName } };
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    artifactType,
    config: EMPTY_DESCRIPTOR,
    layers: [layer],
  }));
  return {
    kind: 'file',
    repository: FILES_REPOSITORY,
    registry: '',
    repositoryPath: FILES_REPOSITORY,
    tag: tagForFile(o.fileName),
    manifest: { desc: { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: digestOf(bytes), size: bytes.length }, bytes },
    config: { desc: EMPTY_DESCRIPTOR, bytes: EMPTY_JSON },
    layers: [layer],
    artifactType,
    fileName: o.fileName,
    origin: o.origin,
    where: o.where,
  };
}

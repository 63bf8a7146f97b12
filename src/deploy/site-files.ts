/**
 * Import outputs for the people who deploy from the mirror (issue 19, seeds 000 and 004): the
 * registry pull secret (`kubectl create secret docker-registry`, written as a manifest) and the
 * release record ("retain the original release-manifest.json, SBOMs, scan reports and checksums in
 * your internal release record").
 */

export interface PullSecretOptions {
  /** Secret name. */
  readonly name: string;
  readonly namespace?: string;
  /** The registry the nodes pull from: `host[:port]`. */
  readonly registry: string;
  readonly username: string;
  readonly password: string;
}

/**
 * A `kubernetes.io/dockerconfigjson` Secret
 * (https://kubernetes.io/docs/concepts/configuration/secret/#docker-config-secrets) as
 * `kubectl create secret docker-registry NAME --docker-server --docker-username --docker-password`
 * makes it. It holds the password: written with mode 0600.
 */
export function pullSecretYaml(o: PullSecretOptions): string {
  const auth = Buffer.from(`${o.username}:${o.password}`, 'utf8').toString('base64');
  const config = JSON.stringify({ auths: { [o.registry]: { username: o.username, password: o.password, auth } } });
  return [
    `# Written by airlock bundle import: the pull secret for ${o.registry}. It holds a password: keep it`,
    '# private, apply it with `kubectl apply -f pull-secret.yaml`, and name it in imagePullSecrets.',
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${JSON.stringify(o.name)}`,
    ...(o.namespace ? [`  namespace: ${JSON.stringify(o.namespace)}`] : []),
    'type: kubernetes.io/dockerconfigjson',
    'data:',
    `  .dockerconfigjson: ${Buffer.from(config, 'utf8').toString('base64')}`,
    '',
  ].join('\n');
}

/** `release-record.json`: what arrived, what was checked and by whom it was signed, where it landed. */
export interface ReleaseRecord {
  readonly version: 1;
  readonly kind: 'airlock-release-record';
  readonly bundleId: string;
  /** The signer of airlock.json (the DMZ's key or identity), when it was verified. */
  readonly bundleSigner?: string;
  readonly bundleCreated: string;
  readonly imported: string;
  readonly target: string;
  /** Delivered files under out-dir (relative paths), each with its sha256 and what vouches for it. */
  readonly files: readonly ReleaseRecordFile[];
  /** Images and charts, upstream → mirror, with the vendor signature checked at export if any. */
  readonly artifacts: readonly ReleaseRecordArtifact[];
}

export interface ReleaseRecordFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  /** Where export took it from (a URL or the file's name). */
  readonly origin?: string;
  readonly signature?: { readonly method: string; readonly signer: string; readonly issuer?: string; readonly signatureFile?: string; readonly checkedAtImport: boolean };
  /** This file is the release set's checksums file: what matched it at import, what it lists that was not carried. */
  readonly checksums?: { readonly verified: readonly string[]; readonly missing: readonly string[]; readonly unlisted: readonly string[] };
  /** The checksums file(s) that list this file and matched it. */
  readonly listedIn?: readonly string[];
}

export interface ReleaseRecordArtifact {
  readonly kind: string;
  readonly source: string;
  readonly mirror: string;
  readonly digest: string;
  readonly status: string;
  readonly vendorSignature?: { readonly method: string; readonly signer: string; readonly issuer?: string };
}

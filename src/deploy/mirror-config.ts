import { DOCKER_HUB, DOCKER_HUB_API_HOST, type TargetRegistry, type RepositoryLayout } from '../reference/index.js';

/**
 * How import reached the target, as the nodes must reach it too. Import knows this from its own
 * connection: the scheme its registry client settled on (with `--dest-tls-verify=false` it learns
 * whether the target speaks TLS), the CA certificates it trusted, and whether credentials were asked.
 */
export interface TargetAccess {
  /** The scheme import used with the target. */
  readonly scheme: 'https' | 'http';
  /** HTTPS without certificate verification (`--dest-tls-verify=false` against a TLS target). */
  readonly skipVerify: boolean;
  /** PEM CA certificates import trusted for the target (`--dest-cert-dir`'s `*.crt`), copied beside the configs. */
  readonly caPem?: string;
  /** What the target asked for: the snippets say where each client takes credentials from (never the credentials). */
  readonly auth: 'none' | 'basic' | 'bearer' | 'unknown';
  /** Import used a client certificate (mTLS). Its key is a secret: it is not copied; the snippets say where it goes. */
  readonly clientCertificate: boolean;
}

export interface MirrorConfigOptions {
  readonly target: TargetRegistry;
  readonly layout: RepositoryLayout;
  /** Upstream registries the bundle's images came from (`docker.io`, `ghcr.io`, `host:port`). */
  readonly upstreams: readonly string[];
  readonly access: TargetAccess;
}

export interface OutputFile {
  /** Relative to the out-dir. */
  readonly path: string;
  readonly text: string;
}

/** Where k3s/RKE2 nodes are told to put the mirror's CA (registries.yaml wants an absolute path). */
export const K3S_CA_FILE = '/etc/rancher/k3s/mirror-ca.crt';

/**
 * The mirror configurations for the nodes that will pull the upstream names: containers-registries.conf
 * (podman, CRI-O, buildah, skopeo), containerd hosts.toml, k3s/RKE2 registries.yaml, and the CA each
 * client reads, in each client's own layout. Pure: the caller writes the files.
 */
export function mirrorConfigFiles(o: MirrorConfigOptions): OutputFile[] {
  const host = o.target.host;
  const a = o.access;
  const upstreams = [...new Set(o.upstreams)].sort();
  // The mirror's own name gets its own entries (pulls by mirrored name: image-map.txt, Helm values),
  // unless it is also an upstream of this bundle, whose entry already covers it.
  const selfEntry = !upstreams.includes(host);
  const insecure = a.scheme === 'http' || a.skipVerify;
  const pathFor = (upstream: string): string =>
    [o.target.prefix, o.layout === 'scoped' ? (upstream === DOCKER_HUB ? DOCKER_HUB : upstream.replace(/:/g, '_')) : '']
      .filter((s) => s !== '').join('/');
  const files: OutputFile[] = [];
  const caPem = a.caPem !== undefined && a.scheme === 'https' && !a.skipVerify ? a.caPem : undefined;
  const how = a.scheme === 'http'
    ? `plain HTTP (http://${host}), as import found it`
    : a.skipVerify
      ? `HTTPS without certificate verification (https://${host}; import ran with --dest-tls-verify=false)`
      : caPem !== undefined
        ? `HTTPS, verified with the CA import trusted (--dest-cert-dir), copied here`
        : `HTTPS, verified with the system CAs`;
  const auth = a.auth === 'basic' || a.auth === 'bearer';

  // containers-registries.conf(5) v2 drop-in. No global keys: a drop-in's globals (such as
  // unqualified-search-registries) would replace the node's own.
  const conf = [
    '# Written by airlock bundle import: a drop-in for /etc/containers/registries.conf.d/ (podman, CRI-O,',
    '# buildah, skopeo; containers-registries.conf(5)). Pulls of the upstream names below go to the mirror.',
    `# Mirror: ${how}.`,
    ...(caPem !== undefined ? [`# CA: copy containers/certs.d/${host}/ca.crt to /etc/containers/certs.d/${host}/ca.crt.`] : []),
    ...(a.clientCertificate ? [`# Client certificate: put NAME.cert and NAME.key in /etc/containers/certs.d/${host}/ (not copied: the key is a secret).`] : []),
    ...(auth ? [
      `# Credentials: the mirror asks for them. Mirrors get the credentials stored for the mirror's own host,`,
      `# not the upstream name's: \`podman login ${host}\`, or an auth.json entry keyed "${host}".`,
    ] : []),
    '# A mirror that fails is skipped and the upstream name is tried next.',
    '',
  ];
  for (const u of upstreams) {
    const p = pathFor(u);
    conf.push('[[registry]]', `prefix = ${quote(u)}`, `location = ${quote(u)}`, '', '[[registry.mirror]]', `location = ${quote(p ? `${host}/${p}` : host)}`);
    if (insecure) conf.push('insecure = true');
    conf.push('');
  }
  if (insecure && selfEntry) conf.push('# Pulls by the mirror\'s own name (image-map.txt, values-registry.yaml).', '[[registry]]', `location = ${quote(host)}`, 'insecure = true', '');
  files.push({ path: 'registries.conf.d/airlock.conf', text: conf.join('\n') });
  if (caPem !== undefined) files.push({ path: `containers/certs.d/${host}/ca.crt`, text: caPem });

  // containerd hosts.toml (https://github.com/containerd/containerd/blob/main/docs/hosts.md): one
  // directory per upstream host. containerd (1.6, Linux) reads `<dir>/<host:port>/hosts.toml` with the
  // colon kept. A relative `ca` is read from the hosts.toml's own directory, so each directory
  // carries its copy and the tree works wherever it is installed.
  const tlsLines = (indent: string): string[] => [
    ...(caPem !== undefined ? [`${indent}ca = "ca.crt"`] : []),
    ...(a.skipVerify && a.scheme === 'https' ? [`${indent}skip_verify = true`] : []),
  ];
  const containerdHeader = (what: string): string[] => [
    `# Written by airlock bundle import: containerd hosts.toml for ${what}.`,
    '# Install the whole containerd/certs.d/ tree as containerd\'s config_path (/etc/containerd/certs.d),',
    '# or pass it to `ctr images pull --hosts-dir`.',
    `# Mirror: ${how}.`,
    ...(a.clientCertificate ? ['# Client certificate: add client = [["NAME.cert", "NAME.key"]] beside ca (not copied: the key is a secret).'] : []),
    ...(auth ? [
      '# Credentials: the mirror asks for them; hosts.toml holds none. ctr: --user USER (it prompts for the',
      `# password). CRI (kubelet): [plugins."io.containerd.grpc.v1.cri".registry.configs."${host}".auth] in config.toml.`,
    ] : []),
  ];
  for (const u of upstreams) {
    const p = pathFor(u);
    const server = u === DOCKER_HUB ? `https://${DOCKER_HUB_API_HOST}` : `https://${u}`;
    const hostUrl = p ? `${a.scheme}://${host}/v2/${p}` : `${a.scheme}://${host}`;
    const lines = [
      ...containerdHeader(`pulls of ${u}`),
      '# The mirror is tried first; server (the upstream) last.',
      `server = ${quote(server)}`, '', `[host.${quote(hostUrl)}]`, '  capabilities = ["pull", "resolve"]',
    ];
    // Without override_path containerd asks for /v2/<prefix>/v2/... and falls back to upstream (docs/ARCHITECTURE.md "Real clients through the mirror configs").
    if (p) lines.push('  override_path = true');
    lines.push(...tlsLines('  '));
    const dir = `containerd/certs.d/${u}`;
    files.push({ path: `${dir}/hosts.toml`, text: `${lines.join('\n')}\n` });
    if (caPem !== undefined) files.push({ path: `${dir}/ca.crt`, text: caPem });
  }
  // The mirror's own name: containerd assumes HTTPS with the system CAs unless told otherwise.
  if (selfEntry && (insecure || caPem !== undefined)) {
    // containerd 1.6 rejects a hosts.toml without a [host] table ("invalid `host` tree") and then
    // silently ignores the file: the mirror is named as a host of its own.
    const lines = [...containerdHeader(`pulls by the mirror's own name (image-map.txt, values-registry.yaml)`),
      `server = ${quote(`${a.scheme}://${host}`)}`, '', `[host.${quote(`${a.scheme}://${host}`)}]`, '  capabilities = ["pull", "resolve"]', ...tlsLines('  ')];
    files.push({ path: `containerd/certs.d/${host}/hosts.toml`, text: `${lines.join('\n')}\n` });
    if (caPem !== undefined) files.push({ path: `containerd/certs.d/${host}/ca.crt`, text: caPem });
  }

  // k3s / RKE2 registries.yaml (https://docs.k3s.io/installation/private-registry): mirrors.<upstream>
  // { endpoint, rewrite }, configs.<mirror host> { auth, tls }. k3s turns it into hosts.toml itself.
  const k3s = [
    '# Written by airlock bundle import: /etc/rancher/k3s/registries.yaml (RKE2: /etc/rancher/rke2/registries.yaml).',
    `# Mirror: ${how}.`,
    ...(caPem !== undefined ? [`# CA: copy containers/certs.d/${host}/ca.crt to ${K3S_CA_FILE} on each node.`] : []),
    'mirrors:',
  ];
  for (const u of upstreams) {
    const p = pathFor(u);
    k3s.push(`  ${yamlKey(u)}:`, '    endpoint:', `      - ${JSON.stringify(`${a.scheme}://${host}`)}`);
    if (p) k3s.push('    rewrite:', `      ${JSON.stringify('^(.*)$')}: ${JSON.stringify(`${p}/$1`)}`);
  }
  const tls = [
    ...(caPem !== undefined ? [`      ca_file: ${JSON.stringify(K3S_CA_FILE)}`] : []),
    ...(a.skipVerify && a.scheme === 'https' ? ['      insecure_skip_verify: true'] : []),
  ];
  const clientTls = a.clientCertificate ? ['    # Client certificate: add cert_file and key_file under tls (not copied: the key is a secret).'] : [];
  const authHint = auth ? ['    # Credentials: the mirror asks for them. Add them here (this file then holds a secret):', '    # auth: { username: USER, password: PASSWORD }'] : [];
  if (tls.length > 0 || clientTls.length > 0 || authHint.length > 0) {
    k3s.push('configs:', `  ${yamlKey(host)}:`, ...(tls.length > 0 ? ['    tls:', ...tls] : []), ...clientTls, ...authHint);
    if (tls.length === 0) k3s.push('    {}');
  }
  files.push({ path: 'k3s-registries.yaml', text: `${k3s.join('\n')}\n` });
  return files;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function yamlKey(s: string): string {
  return /^[A-Za-z0-9._-]+$/.test(s) ? s : JSON.stringify(s);
}

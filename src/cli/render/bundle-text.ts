import { shortDigest } from '../../oci/index.js';
import type { BundleArtifact, ExportResult, ImportResult, InspectResult, PlanDescription, PolicyDecision, SignatureStatus, ToolCheck } from '../../ops/index.js';
import { formatBytes } from '../../util/index.js';

/** Human text for bundles: labels of 9 columns so a full digest still fits in 80. */
const LABEL = 9;

function field(label: string, value: string): string {
  return `${label.padEnd(LABEL)}${value}`;
}

/** `sha256-<64 hex>.sig` → `sha256-<12 hex>….sig`: the full form is in --json. */
export function shortenHexRuns(text: string): string {
  return text.replace(/([a-f0-9]{12})[a-f0-9]{52}/g, '$1…');
}

/** The artifact as a person names it: source reference without the pinned digest (with a tag the mirror list gave it). */
export function artifactName(a: Pick<BundleArtifact, 'source'> & Partial<Pick<BundleArtifact, 'tag' | 'tagGiven'>>): string {
  const name = a.source.replace(/@sha256:[a-f0-9]{64}$/, '');
  return shortenHexRuns(a.tagGiven && a.tag !== undefined ? `${name}:${a.tag}` : name);
}

/** Where an artifact came from when it was not simply pulled by name: an archive, a release manifest, a tag the list gave. */
export function originNotes(a: Partial<Pick<BundleArtifact, 'archive' | 'tagGiven' | 'tag' | 'fromFile' | 'fileSignature' | 'checksums' | 'dependencyOf'>>): string[] {
  const notes: string[] = [];
  if (a.archive) {
    const r = a.archive;
    notes.push(`from ${r.format} ${r.name}${r.ref !== undefined ? ` (named ${r.ref} there)` : ''}${r.sha256 ? ', sha256 checked' : ''}`);
    if (r.manifest === 'airlock') notes.push('manifest made by airlock (the archive has none): this digest exists nowhere upstream');
  }
  if (a.fromFile) notes.push(`from ${a.fromFile.name} (${a.fromFile.selector})`);
  if (a.tagGiven && a.tag !== undefined) notes.push(`tag ${a.tag} given by the mirror list (target only)`);
  if (a.dependencyOf) notes.push(`a dependency of ${shortenHexRuns(a.dependencyOf)}`);
  if (a.fileSignature) {
    const f = a.fileSignature;
    notes.push(`vendor signature verified at export: ${f.method}, ${shortenHexRuns(f.signer)}${f.signerIssuer ?? f.issuer ? ` (${f.signerIssuer ?? f.issuer})` : ''}; ${f.signatureName} carried`);
  }
  if (a.checksums) {
    const c = a.checksums;
    notes.push(`checksums of the release set: ${c.verified.length} file(s) match${c.missing.length ? `; lists ${c.missing.length} not carried (${c.missing.slice(0, 3).join(', ')}${c.missing.length > 3 ? ', ...' : ''})` : ''}${c.unlisted.length ? `; ${c.unlisted.length} not listed` : ''}`);
  }
  return notes;
}

export function signatureLines(s: SignatureStatus): string[] {
  if (!s.signed) return [field('signer', `none: the bundle is UNSIGNED${s.reason ? ` (${s.reason})` : ''}`)];
  const how = s.method === 'key' ? 'key signature' : s.method ? `${s.method} signature` : 'signature';
  return [
    field('signer', s.signer ?? '(unknown)'),
    field('', s.verified ? `${how}, verified${s.issuer ? ` (issuer ${s.issuer})` : ''}` : `${how}, NOT verified${s.reason ? `: ${shortenHexRuns(s.reason)}` : ''}`),
  ];
}

/** `export --include-tool`: the executable beside the bundle, and what was found there. */
export function toolLines(t: ToolCheck): string[] {
  const status: Record<ToolCheck['status'], string> = {
    verified: 'beside the bundle, sha256 verified',
    present: 'beside the bundle (size matches; `bundle verify` checks its sha256)',
    absent: 'NOT beside the bundle',
    different: 'beside the bundle, but NOT the file recorded (another size or not a file): do not run it',
  };
  return [
    field('tool', `${t.file} (${t.platform}, airlock ${t.version}, ${formatBytes(t.size)})`),
    field('', `${t.digest}`),
    field('', status[t.status]),
  ];
}

export function formatInspect(r: InspectResult): string {
  const lines = [
    field('bundle', r.bundleId),
    field('created', `${r.created} by airlock ${r.tool.version} (format ${r.formatVersion})`),
    ...signatureLines(r.signature),
    field('bases', r.bases.length === 0 ? 'none (a full bundle)' : r.bases.map((b) => `${shortDigest(b.id)} (${b.kind})`).join(', ')),
    ...(r.volumes ? [field('volumes', `${r.volumes.count} of at most ${formatBytes(r.volumes.maxSize)}`)] : []),
    ...(r.carriedTool ? toolLines(r.carriedTool) : []),
    ...(r.policy ? policyLines(r.policy) : []),
    '',
    `${'KIND'.padEnd(LABEL)}${'DIGEST'.padEnd(14)}${'SIZE'.padStart(9)}  ARTIFACT`,
  ];
  for (const a of r.artifacts) {
    lines.push(`${a.kind.padEnd(LABEL)}${shortDigest(a.digest).slice(7).padEnd(14)}${formatBytes(a.totalSize ?? a.size).padStart(9)}  ${artifactName(a)}`);
    const notes = [
      a.platforms ? a.platforms.join(', ') : '',
      a.upstreamDigest ? `filtered from index ${shortDigest(a.upstreamDigest)}` : '',
      a.subject ? `refers to ${shortDigest(a.subject)}` : '',
      a.upstreamSignature ? `vendor signature ${a.upstreamSignature.verified ? 'verified' : 'NOT verified'} at export (${shortenHexRuns(a.upstreamSignature.signer)})` : '',
      ...originNotes(a),
    ].filter(Boolean);
    for (const n of notes) lines.push(`${' '.repeat(LABEL)}└ ${n}`);
  }
  const t = r.totals;
  lines.push(
    '',
    `${t.artifacts} artifacts, ${t.blobs} blobs`,
    `${formatBytes(t.bytesIncluded)} in this bundle, ${formatBytes(t.bytesFromBases)} left to bases, ${formatBytes(t.bytesSavedByDedup)} saved by dedup`,
  );
  return lines.join('\n');
}

/** One artifact as a table row: kind, short digest, name; platforms and the like on lines below. */
export function artifactRow(a: Pick<BundleArtifact, 'kind' | 'source' | 'digest' | 'platforms' | 'upstreamDigest'> & Partial<BundleArtifact>): string[] {
  const rows = [`${a.kind.padEnd(LABEL)}${shortDigest(a.digest).slice(7).padEnd(14)}${artifactName(a)}`];
  if (a.platforms) rows.push(`${' '.repeat(LABEL)}└ ${a.platforms.join(', ')}${a.upstreamDigest ? ` (filtered from ${shortDigest(a.upstreamDigest)})` : ''}`);
  for (const n of originNotes(a)) rows.push(`${' '.repeat(LABEL)}└ ${n}`);
  return rows;
}

export function formatExportSummary(r: ExportResult): string {
  const lines = r.artifacts.flatMap((a) => artifactRow(a));
  lines.push('');
  if (r.dryRun) {
    lines.push(field('plan', `${r.artifacts.length} artifacts, ${r.blobs} blobs (dry run: nothing written)`));
    if (r.plan) lines.push(...planLines(r.plan));
  }
  else lines.push(field('bundle', r.bundleId ?? '?'), field('', `${r.signed ? 'signed' : 'UNSIGNED'}; ${r.artifacts.length} artifacts, ${r.blobs} blobs`));
  lines.push(field('size', `${formatBytes(r.bytesBeforeDedup)} before dedup, ${formatBytes(r.bytesAfterDedup)} after`));
  lines.push(field('', `${formatBytes(r.bytesIncluded)} carried${r.bases.length ? `, ${formatBytes(r.bytesFromBases)} left to ${r.bases.length} base(s)` : ''}`));
  if (r.volumes) for (const v of r.volumes) lines.push(field(v === r.volumes[0] ? 'volumes' : '', `${String(v.volume).padStart(3, '0')}: ${v.blobs} blobs, ${formatBytes(v.bytes)}`));
  if (!r.dryRun) {
    if (r.tool) lines.push(field('tool', `${r.tool.file} beside it (${r.tool.digest}), recorded in airlock.json`));
    r.files.forEach((f, i) => lines.push(field(i === 0 ? 'wrote' : '', `${f.path} (${formatBytes(f.size)})`)));
    lines.push(field('', `downloaded ${formatBytes(r.bytesDownloaded)} in ${(r.durationMs / 1000).toFixed(1)} s`));
  }
  return lines.join('\n');
}

export function formatImportSummary(r: ImportResult): string {
  const lines = [field('bundle', r.bundleId), ...signatureLines(r.signature), ...(r.policy ? policyLines(r.policy) : [])];
  if (r.dryRun) {
    lines.push(field('plan', `for ${r.target}:`));
    if (r.plan) lines.push(...planLines(r.plan));
    else for (const a of r.artifacts) lines.push(`  ${a.kind.padEnd(LABEL - 2)}${shortenHexRuns(a.target)}`);
    lines.push(field('', `${r.blobsToPush ?? 0} blob(s) to push (${formatBytes(r.bytesToPush ?? 0)}), ${r.blobsAlreadyPresent} already present`), field('', 'nothing was pushed (--dry-run)'));
    const s = r.targetSupport;
    if (s) {
      lines.push(field('target', `auth ${s.auth}, referrers API ${s.referrersApi ? 'yes' : 'no'}`));
      for (const n of s.notes) lines.push(field('', n));
    }
    return lines.join('\n');
  }
  lines.push(
    field('target', `${r.target}: ${r.artifacts.filter((a) => a.status !== 'waiting').length}/${r.artifacts.length} artifacts`),
    field('pushed', `${r.blobsPushed} blobs (${formatBytes(r.bytesPushed)}), ${r.blobsMounted} mounted, ${r.blobsAlreadyPresent} already there`),
    field('', `${r.manifestsPushed} manifests, ${r.tagsSet} tags in ${(r.durationMs / 1000).toFixed(1)} s`),
  );
  for (const m of r.tagMoves ?? []) {
    lines.push(field('moved', `${m.repository}:${m.tag} ${shortDigest(m.previous)} → ${shortDigest(m.digest)}${m.historyTag ? ` (previous kept as ${m.historyTag})` : ''}`));
  }
  if (r.projectsCreated && r.projectsCreated.length > 0) lines.push(field('created', `Harbor project(s) ${r.projectsCreated.join(', ')}`));
  if (r.volumesRemaining.length > 0) lines.push(field('waiting', `for volume(s) ${r.volumesRemaining.join(', ')}: import them to finish`));
  if (r.outDir) lines.push(field('outputs', `${r.outDir}`), field('', 'image map, mirror configs, receipt'));
  if (r.files && r.files.length > 0) lines.push(field('files', `${r.files.length} delivered under ${r.outDir ?? '.'}/files`), field('', 'checksums in files/SHA256SUMS'));
  if (r.releaseFiles) {
    for (const f of r.releaseFiles.signed) lines.push(field('signed', `${f.file}: ${f.signer}${f.issuer ? ` (${f.issuer})` : ''}, checked again here`));
    for (const c of r.releaseFiles.checksums) lines.push(field('checksums', `${c.file}: ${c.verified.length} file(s) match${c.missing.length ? `; lists ${c.missing.length} not carried` : ''}`));
  }
  for (const w of r.rewritten ?? []) lines.push(field('rewritten', `${w.file} → ${w.written}${w.env ? ` and ${w.env}` : ''} (${w.changes.length} change(s)${w.notMirrored.length ? `, ${w.notMirrored.length} image(s) not mirrored` : ''})`));
  for (const w of r.written ?? []) lines.push(field('wrote', w));
  if (r.tool) lines.push(...toolLines(r.tool));
  return lines.join('\n');
}

/** Roots listed by `--dry-run` in text; `--json` carries the whole plan. */
const PLAN_ROOTS_SHOWN = 50;

/**
 * `--dry-run`: the copy plan (describePlan), summarised: one line per root (source → target,
 * digest), then the blobs and bytes by where they come from.
 */
export function planLines(p: PlanDescription): string[] {
  const lines: string[] = [];
  for (const r of p.roots.slice(0, PLAN_ROOTS_SHOWN)) {
    const target = r.target !== undefined ? `${r.target}${r.tag !== undefined ? `:${r.tag}` : ''}` : '(carried, not copied)';
    lines.push(`  ${r.kind.padEnd(LABEL - 2)}${shortDigest(r.digest).slice(7).padEnd(14)}${shortenHexRuns(r.source.replace(/@sha256:[a-f0-9]{64}$/, ''))} → ${shortenHexRuns(target)}`);
  }
  if (p.roots.length > PLAN_ROOTS_SHOWN) lines.push(`  … and ${p.roots.length - PLAN_ROOTS_SHOWN} more root(s) (--json lists them all)`);
  lines.push(field('blobs', `${p.totals.blobs} (${formatBytes(p.totals.bytes)}) under ${p.totals.roots} root(s)`));
  for (const [from, t] of Object.entries(p.totals.byOrigin).sort((a, b) => b[1].bytes - a[1].bytes || a[0].localeCompare(b[0]))) {
    lines.push(field('', `${t.blobs} (${formatBytes(t.bytes)}) from ${shortenHexRuns(from)}`));
  }
  return lines;
}

/** `--policy`: the verdict, then one line per artifact and one per rule that applied to it. */
export function policyLines(d: PolicyDecision): string[] {
  const refused = d.artifacts.filter((a) => !a.allowed).length;
  const lines = [field('policy', `${d.policy} (${shortDigest(d.digest)}): ${d.allowed ? `all ${d.artifacts.length} artifact(s) allowed` : `${refused} of ${d.artifacts.length} artifact(s) REFUSED`}`)];
  for (const a of d.artifacts) {
    lines.push(`  ${(a.allowed ? 'allow' : 'REFUSE').padEnd(LABEL - 2)}${shortenHexRuns(a.source)}`);
    for (const c of a.checks) lines.push(`${' '.repeat(LABEL)}└ rule ${c.rule} ${c.kind}: ${c.passed ? 'pass' : 'FAIL'}, ${shortenHexRuns(c.detail)}`);
  }
  return lines;
}

/** The non-TTY / above-the-bar line for an imported artifact. */
export function importedLine(kind: string, name: string, target: string, digest: string): string {
  return `${kind.padEnd(LABEL)}${shortDigest(digest).slice(7).padEnd(14)}${shortenHexRuns(name)} → ${target}`;
}

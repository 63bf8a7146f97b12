import type { Readable } from 'node:stream';
import type { Descriptor, Digest } from '../oci/index.js';

export interface CallOptions {
  readonly signal?: AbortSignal;
}

/** Anything descriptors can be read from: a registry repository, a bundle, a layout, the cache. */
export interface ContentSource {
  /** Tag or digest → the root descriptor. */
  resolve(reference: string, opts?: CallOptions): Promise<Descriptor>;
  /** Raw bytes of `desc`, unverified; callers verify every byte with verifyStream(). */
  fetch(desc: Descriptor, opts?: CallOptions): Promise<Readable>;
  exists(desc: Descriptor, opts?: CallOptions): Promise<boolean>;
}

/** Anything descriptors can be written to. */
export interface ContentSink {
  exists(desc: Descriptor, opts?: CallOptions): Promise<boolean>;
  /**
   * Store exactly these bytes under `desc`; reject size/digest mismatch ("already present" is
   * success). A sink that keeps nothing (DiscardSink, verify) records a mismatch and resolves.
   */
  push(desc: Descriptor, body: Readable, opts?: CallOptions): Promise<void>;
  /** Point `tag` at `desc`. Called only once everything below `desc` is present. */
  tag(desc: Descriptor, tag: string, opts?: TagOptions): Promise<void>;
}

export interface TagOptions extends CallOptions {
  /** The caller has seen (TagChecker) that the tag does not point at `desc`: move it without looking again. */
  readonly known?: 'elsewhere';
}

export interface TagChecker {
  /**
   * Does `tag` point at `desc` now? One request; true also proves the manifest is there. A no-op
   * re-import asks this once per tagged root instead of asking for the manifest and the tag apart.
   */
  tagPointsAt(desc: Descriptor, tag: string, opts?: CallOptions): Promise<boolean>;
}

export interface ReferrerLister {
  referrers(subject: Descriptor, opts?: CallOptions & { artifactType?: string }): Promise<Descriptor[]>;
}

export interface BlobMounter {
  /** Mount `desc` from another repository of the same registry. True when the registry mounted it. */
  mount(desc: Descriptor, fromRepository: string, opts?: CallOptions): Promise<boolean>;
}

/** A piece of a blob cut across volumes: its own bytes, with their own digest and size, at `offset` in the blob. */
export interface BlobPieceRef {
  readonly offset: number;
  readonly digest: Digest;
  readonly size: number;
}

/**
 * A sink that takes the pieces of a cut blob one by one, each checked against its own digest
 * (verify: a volume is checked on its own, without the others). The copy engine hands a piece
 * only to such a sink; the others get the blob whole or not at all.
 */
export interface PieceSink {
  pushPiece(desc: Descriptor, piece: BlobPieceRef, body: Readable, opts?: CallOptions): Promise<void>;
}

/**
 * A sink that only checks bytes and keeps none of them (verify's DiscardSink): it can take the
 * outcome of a check made elsewhere (a worker that hashed the bytes where they lie) instead of
 * the bytes. `takesChecked(desc)` is false for a blob whose bytes it would keep after all.
 */
export interface CheckingSink {
  takesChecked(desc: Descriptor): boolean;
  /** `check` settles once the bytes were hashed and compared: a DIGEST_MISMATCH or SIZE_MISMATCH rejection is a finding. */
  pushChecked(desc: Descriptor, check: Promise<void>): Promise<void>;
  pushPieceChecked(desc: Descriptor, piece: BlobPieceRef, check: Promise<void>): Promise<void>;
}

export interface TagLister {
  tags(opts?: CallOptions): Promise<string[]>;
}

export const canListReferrers = <T extends object>(s: T): s is T & ReferrerLister =>
  typeof (s as Partial<ReferrerLister>).referrers === 'function';

export const canMount = <T extends object>(s: T): s is T & BlobMounter =>
  typeof (s as Partial<BlobMounter>).mount === 'function';

export const canCheckTags = <T extends object>(s: T): s is T & TagChecker =>
  typeof (s as Partial<TagChecker>).tagPointsAt === 'function';

/** A sink that can also read back what it holds (a registry repository, a layout). */
export const canFetch = <T extends object>(s: T): s is T & Pick<ContentSource, 'fetch'> =>
  typeof (s as Partial<ContentSource>).fetch === 'function';

export const canTakePieces = <T extends object>(s: T): s is T & PieceSink =>
  typeof (s as Partial<PieceSink>).pushPiece === 'function';

export const canTakeChecked = <T extends object>(s: T): s is T & CheckingSink =>
  typeof (s as Partial<CheckingSink>).pushChecked === 'function';

export const canListTags = <T extends object>(s: T): s is T & TagLister =>
  typeof (s as Partial<TagLister>).tags === 'function';

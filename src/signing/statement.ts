import { createHash } from 'node:crypto';
import { AIRLOCK_JSON } from '../bundle/index.js';

/** in-toto Statement v1: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md */
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** Airlock's predicate: what the signer vouches for besides the airlock.json digest. */
export const AIRLOCK_PREDICATE_TYPE = 'https://airlock.dev/bundle/v1';

export interface AirlockPredicate {
  /** `sha256:<hex>` of airlock.json: equals the subject digest. */
  readonly bundleId: string;
  /** Ids of the base bundles (or receipts) a delta bundle builds on. */
  readonly bases: readonly string[];
  readonly toolVersion: string;
}

export interface InTotoSubject {
  readonly name: string;
  readonly digest: Readonly<Record<string, string>>;
}

export interface InTotoStatement {
  readonly _type: string;
  readonly subject: readonly InTotoSubject[];
  readonly predicateType: string;
  readonly predicate: unknown;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function createAirlockStatement(airlockJson: Uint8Array, predicate: AirlockPredicate): InTotoStatement {
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: AIRLOCK_JSON, digest: { sha256: sha256Hex(airlockJson) } }],
    predicateType: AIRLOCK_PREDICATE_TYPE,
    predicate: { bundleId: predicate.bundleId, bases: [...predicate.bases], toolVersion: predicate.toolVersion },
  };
}

/** Parse a DSSE payload as an in-toto statement; returns a reason string when it is not one. */
export function parseStatement(payload: Buffer): InTotoStatement | string {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'the signed payload is not JSON';
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'the signed payload is not a JSON object';
  const o = doc as Record<string, unknown>;
  if (typeof o['_type'] !== 'string') return 'the signed statement has no _type';
  if (!Array.isArray(o['subject'])) return 'the signed statement has no subject list';
  const subject: InTotoSubject[] = [];
  for (const s of o['subject'] as unknown[]) {
    if (typeof s !== 'object' || s === null) return 'the signed statement has a malformed subject';
    const name = (s as Record<string, unknown>)['name'];
    const digest = (s as Record<string, unknown>)['digest'];
    if (typeof digest !== 'object' || digest === null || Array.isArray(digest)) return 'a subject of the signed statement has no digest';
    const d: Record<string, string> = {};
    for (const [k, v] of Object.entries(digest as Record<string, unknown>)) {
      if (typeof v !== 'string') return 'a subject digest of the signed statement is not a string';
      d[k] = v;
    }
    subject.push({ name: typeof name === 'string' ? name : '', digest: d });
  }
  if (typeof o['predicateType'] !== 'string') return 'the signed statement has no predicateType';
  return { _type: o['_type'], subject, predicateType: o['predicateType'], predicate: o['predicate'] };
}

/** Read the Airlock predicate leniently (for display); undefined when it is not ours. */
export function readAirlockPredicate(statement: InTotoStatement): AirlockPredicate | undefined {
  if (statement.predicateType !== AIRLOCK_PREDICATE_TYPE) return undefined;
  const p = statement.predicate;
  if (typeof p !== 'object' || p === null) return undefined;
  const r = p as Record<string, unknown>;
  const bases = Array.isArray(r['bases']) ? r['bases'].filter((b): b is string => typeof b === 'string') : [];
  return {
    bundleId: typeof r['bundleId'] === 'string' ? r['bundleId'] : '',
    bases,
    toolVersion: typeof r['toolVersion'] === 'string' ? r['toolVersion'] : '',
  };
}

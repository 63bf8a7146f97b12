import assert from 'node:assert/strict';
import { AirlockError, type ErrorCode } from '../../src/errors.js';

/** Assert that `p` rejects with an AirlockError of `code`; returns the error for further checks. */
export async function assertRejectsCode(p: Promise<unknown> | (() => Promise<unknown>), code: ErrorCode): Promise<AirlockError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    assert.ok(err instanceof AirlockError, `expected AirlockError(${code}), got ${String(err)}${err instanceof Error ? `\n${err.stack}` : ''}`);
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected rejection with ${code}, but it resolved`);
}

export function assertThrowsCode(fn: () => unknown, code: ErrorCode): AirlockError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AirlockError, `expected AirlockError(${code}), got ${String(err)}`);
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected a throw with ${code}`);
}

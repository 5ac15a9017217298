// What every package and app shares instead of keeping copies: deepFreeze, the UUID pattern, and one error root.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  API_ERRORS,
  Clawd402BaseError,
  Clawd402Error,
  deepFreeze,
  isUuid,
  SIGNER_ERRORS,
  SignerError,
  UUID,
  UUID_PATTERN,
} from '../src/index.ts';

describe('deepFreeze', { timeout: 10_000 }, () => {
  test('freezes every nested object and array in place and returns the same value', () => {
    const value = { a: { b: [1, { c: 2n }] }, d: 'x' };
    assert.equal(deepFreeze(value), value);
    assert.ok(
      Object.isFrozen(value) && Object.isFrozen(value.a) && Object.isFrozen(value.a.b) && Object.isFrozen(value.a.b[1]),
    );
    assert.throws(() => {
      (value.a.b[1] as { c: bigint }).c = 3n;
    }, TypeError);
  });

  test('a cycle ends, and primitives pass through', () => {
    const cyclic: { self?: unknown; list: unknown[] } = { list: [] };
    cyclic.self = cyclic;
    cyclic.list.push(cyclic);
    deepFreeze(cyclic);
    assert.ok(Object.isFrozen(cyclic.list));
    assert.equal(deepFreeze(null), null);
    assert.equal(deepFreeze(5n), 5n);
  });
});

describe('UUID', { timeout: 10_000 }, () => {
  test('matches what randomUUID and Postgres print, nothing else', () => {
    assert.ok(isUuid(randomUUID()));
    for (const bad of [
      randomUUID().toUpperCase(),
      `{${randomUUID()}}`,
      `${randomUUID()}\n`,
      randomUUID().replace(/-/g, ''),
      '',
      42,
    ]) {
      assert.equal(isUuid(bad), false, String(bad));
    }
    assert.equal(UUID.source, `^${UUID_PATTERN}$`);
  });
});

describe('one error root', { timeout: 10_000 }, () => {
  test('Clawd402Error and SignerError share Clawd402BaseError: code, cause, statusCode where it answers HTTP', () => {
    const cause = new Error('socket closed');
    const api = new Clawd402Error('signer_unavailable', undefined, { cause });
    const signer = new SignerError('ticket_reused', undefined, { cause });
    for (const error of [api, signer]) {
      assert.ok(error instanceof Clawd402BaseError && error instanceof Error);
      assert.equal(error.cause, cause);
    }
    assert.ok(api instanceof Clawd402Error && !(api instanceof SignerError));
    assert.ok(signer instanceof SignerError && !(signer instanceof Clawd402Error));
    assert.deepEqual(
      [api.name, api.code, api.statusCode, api.message],
      ['Clawd402Error', 'signer_unavailable', 503, API_ERRORS.signer_unavailable.message],
    );
    assert.deepEqual(
      [signer.name, signer.code, signer.message],
      ['SignerError', 'ticket_reused', SIGNER_ERRORS.ticket_reused],
    );
    assert.equal('statusCode' in signer, false, 'the signer answers no HTTP status');
  });
});

/**
 * JSON nested 10,000 deep. Balanced, it is over 16 KiB (two bytes a level) and refused by size; as 10,000 open
 * brackets (10 KB, under the limit) or a deep object chain it reaches the parser, which stops at level 65 with
 * 400 json_too_deep instead of recursing 10,000 times. Public and authenticated routes alike; the gateway keeps
 * serving, and a body at the 64-level limit still reaches the schema.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stackWithToken } from '../support/suite.ts';
import { assertStillServing } from '../support/raw-http.ts';

describe('JSON nested 10,000 deep', { timeout: 180_000 }, () => {
  const ctx = stackWithToken();

  async function post(
    path: string,
    body: string,
    auth = false,
  ): Promise<{ status: number; code: string; details?: Record<string, unknown> }> {
    const res = await fetch(`${ctx.stack.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${ctx.token}` } : {}) },
      body,
    });
    const json = (await res.json()) as { code: string; details?: Record<string, unknown> };
    return { status: res.status, code: json.code, details: json.details };
  }

  for (const [path, auth] of [
    ['/auth/token', false],
    ['/v1/intents', true],
  ] as const) {
    test(`${path}: 10,000 open brackets → 400 json_too_deep (maxDepth 64)`, async () => {
      const res = await post(path, '['.repeat(10_000), auth);
      assert.deepEqual([res.status, res.code], [400, 'json_too_deep']);
      assert.equal(res.details?.maxDepth, 64);
      await assertStillServing(ctx.stack.baseUrl, ctx.token);
    });

    test(`${path}: {"a": nested 2,000 deep (12 KB, balanced) → 400 json_too_deep`, async () => {
      const res = await post(path, `${'{"a":'.repeat(2_000)}1${'}'.repeat(2_000)}`, auth);
      assert.deepEqual([res.status, res.code], [400, 'json_too_deep']);
      await assertStillServing(ctx.stack.baseUrl, ctx.token);
    });

    test(`${path}: [ ] nested 10,000 deep, balanced (20 KB) → 413 payload_too_large`, async () => {
      const res = await post(path, `${'['.repeat(10_000)}${']'.repeat(10_000)}`, auth);
      assert.deepEqual([res.status, res.code], [413, 'payload_too_large']);
      await assertStillServing(ctx.stack.baseUrl, ctx.token);
    });
  }

  test("64 levels are read: the refusal is the schema's (invalid_request), 65 are json_too_deep", async () => {
    const at = (levels: number): string => `{"apiKey":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
    assert.deepEqual(Object.values(await post('/auth/token', at(64))).slice(0, 2), [400, 'invalid_request']);
    assert.deepEqual(Object.values(await post('/auth/token', at(65))).slice(0, 2), [400, 'json_too_deep']);
  });
});

/**
 * Prototype poisoning at depth: `__proto__` and `constructor.prototype` members anywhere in a body (escaped or not)
 * are 400 invalid_json, on public and authenticated routes; nothing reaches validation, no intent is created, and
 * the gateway's own Object.prototype (it runs in this process) is untouched. The gateway keeps serving.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPIENTS, count } from '../support/stack.ts';
import { stackWithToken } from '../support/suite.ts';
import { assertStillServing } from '../support/raw-http.ts';

const TO = RECIPIENTS[0]!;
const intent = (extra: string): string =>
  `{"type":"transfer","chainId":31337,"to":"${TO}","asset":"native","amount":"0.001",${extra}}`;

const CASES: [string, string][] = [
  ['__proto__ at the top', intent('"__proto__":{"isAdmin":true}')],
  [
    '__proto__ two levels down (in typed data)',
    '{"type":"typed_data","chainId":31337,"typedData":{"domain":{"__proto__":{"isAdmin":true}},"types":{},"primaryType":"X","message":{}}}',
  ],
  ['__proto__ inside an array element', intent('"memo":"x","extra":[{"a":[{"__proto__":{"isAdmin":true}}]}]')],
  ['__proto__ spelt with a \\u escape', intent('"nested":{"\\u005f_proto__":{"isAdmin":true}}')],
  ['constructor.prototype at the top', intent('"constructor":{"prototype":{"isAdmin":true}}')],
  [
    'constructor.prototype deep down',
    '{"type":"typed_data","chainId":31337,"typedData":{"message":{"a":{"b":{"constructor":{"prototype":{"isAdmin":true}}}}}}}',
  ],
];

describe('__proto__ and constructor.prototype at depth are refused', { timeout: 180_000 }, () => {
  const ctx = stackWithToken();

  for (const [name, body] of CASES) {
    for (const [path, auth] of [
      ['/v1/intents', true],
      ['/auth/token', false],
    ] as const) {
      test(`${path}: ${name} → 400 invalid_json`, async () => {
        const res = await fetch(`${ctx.stack.baseUrl}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${ctx.token}` } : {}) },
          body,
        });
        const json = (await res.json()) as { code: string };
        assert.deepEqual([res.status, json.code], [400, 'invalid_json']);
        assert.equal(({} as Record<string, unknown>).isAdmin, undefined, 'Object.prototype is untouched');
        await assertStillServing(ctx.stack.baseUrl, ctx.token);
      });
    }
  }

  test('a "constructor" member without "prototype" is ordinary data: it reaches the schema (unknown_field)', async () => {
    const res = await fetch(`${ctx.stack.baseUrl}/v1/intents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.token}` },
      body: intent('"constructor":{"name":"x"}'),
    });
    assert.deepEqual([res.status, ((await res.json()) as { code: string }).code], [400, 'unknown_field']);
  });

  test('after all of the above: no intent was created', async () => {
    assert.equal(await count(ctx.stack.pool, 'SELECT count(*)::int AS n FROM intents'), 0);
  });
});

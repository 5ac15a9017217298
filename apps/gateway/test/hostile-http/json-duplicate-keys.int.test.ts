/**
 * Duplicate member names: `{"amount":"1","amount":"1000"}` meant 1000 to the gateway (JSON.parse keeps the last) and
 * may mean 1 to a proxy, a WAF or a log reader in front of it — a parser differential on a money field. Every body
 * with a name twice in one object, at any depth, escaped or not, is refused with 400 json_duplicate_key before
 * anything reads it: no intent, no nonce, nothing signed. The gateway keeps serving.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPIENTS, count } from '../support/stack.ts';
import { stackWithToken } from '../support/suite.ts';
import { assertStillServing } from '../support/raw-http.ts';

const TO = RECIPIENTS[0]!;
const OTHER = RECIPIENTS[1]!;

const CASES: [string, string, string][] = [
  [
    '"amount" twice, the larger last',
    '/v1/intents',
    `{"type":"transfer","chainId":31337,"to":"${TO}","asset":"native","amount":"1","amount":"1000"}`,
  ],
  [
    '"amount" twice, the larger first',
    '/v1/intents',
    `{"type":"transfer","chainId":31337,"to":"${TO}","asset":"native","amount":"1000","amount":"1"}`,
  ],
  [
    '"amount" and "\\u0061mount"',
    '/v1/intents',
    `{"type":"transfer","chainId":31337,"to":"${TO}","asset":"native","amount":"1","\\u0061mount":"1000"}`,
  ],
  [
    '"to" twice (two recipients)',
    '/v1/intents',
    `{"type":"transfer","chainId":31337,"to":"${TO}","to":"${OTHER}","asset":"native","amount":"1"}`,
  ],
  [
    '"chainId" twice',
    '/v1/intents',
    `{"type":"transfer","chainId":31337,"chainId":1,"to":"${TO}","asset":"native","amount":"1"}`,
  ],
  [
    '"type" twice',
    '/v1/intents',
    `{"type":"transfer","type":"contract_call","chainId":31337,"to":"${TO}","asset":"native","amount":"1","data":"0x"}`,
  ],
  [
    'a duplicate deep in typed data',
    '/v1/intents',
    `{"type":"typed_data","chainId":31337,"typedData":{"domain":{"chainId":31337,"chainId":1},"types":{},"primaryType":"X","message":{}}}`,
  ],
  [
    '"apiKey" twice on the token exchange',
    '/auth/token',
    '{"apiKey":"c402_0000000000000000_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","apiKey":"x"}',
  ],
  [
    '"username" twice on login',
    '/auth/login',
    '{"username":"owner-1","username":"attacker","password":"passwordpassword"}',
  ],
];

describe('duplicate JSON keys are refused with json_duplicate_key', { timeout: 180_000 }, () => {
  const ctx = stackWithToken();

  for (const [name, path, body] of CASES) {
    test(`${path}: ${name} → 400 json_duplicate_key`, async () => {
      const res = await fetch(`${ctx.stack.baseUrl}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(path === '/v1/intents' ? { authorization: `Bearer ${ctx.token}` } : {}),
        },
        body,
      });
      const json = (await res.json()) as { code: string; details?: { position?: number } };
      assert.deepEqual([res.status, json.code], [400, 'json_duplicate_key']);
      assert.equal(typeof json.details?.position, 'number');
      await assertStillServing(ctx.stack.baseUrl, ctx.token);
    });
  }

  test('the same body without the duplicate is accepted (the refusal is the duplicate, not the body)', async () => {
    const res = await fetch(`${ctx.stack.baseUrl}/v1/intents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.token}` },
      body: `{"type":"transfer","chainId":31337,"to":"${TO}","asset":"native","amount":"1"}`,
    });
    const json = (await res.json()) as { status: string; amount: string };
    assert.equal(res.status, 201, JSON.stringify(json));
    await ctx.stack.pool.query('SELECT 1');
  });

  test('after all of the above: one intent (the control), no refused body became an intent; refusals are audited', async () => {
    assert.equal(await count(ctx.stack.pool, 'SELECT count(*)::int AS n FROM intents'), 1);
    const audit = await ctx.stack.pool.query<{ code: string }>(
      `SELECT record::jsonb->'data'->>'code' AS code FROM audit_log WHERE action = 'intent.refused'`,
    );
    assert.equal(
      audit.rows.filter((r) => r.code === 'json_duplicate_key').length,
      CASES.filter(([, path]) => path === '/v1/intents').length,
    );
  });
});

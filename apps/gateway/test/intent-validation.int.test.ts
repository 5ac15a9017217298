import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ANVIL_ACCOUNTS } from '@clawd402/testkit';
import { RECIPIENTS, postIntent } from './support/stack.ts';
import { stackWithToken } from './support/suite.ts';

const TO = RECIPIENTS[0]!; // 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
const valid = { type: 'transfer', chainId: 31337, to: TO, asset: 'native', amount: '0.5' };

/** Each hostile or malformed request, the status and the exact code it must get. */
const CASES: { name: string; body: unknown; status: number; code: string; headers?: Record<string, string> }[] = [
  { name: 'unknown field', body: { ...valid, fee: '0' }, status: 400, code: 'unknown_field' },
  {
    name: 'unknown field on a contract call',
    body: { type: 'contract_call', chainId: 31337, to: TO, data: '0x', gasPrice: '1' },
    status: 400,
    code: 'unknown_field',
  },
  {
    name: 'bad EIP-55 checksum (one letter case flipped)',
    body: { ...valid, to: '0x70997970C51812dc3A010C7d01b50e0d17dc79c8' },
    status: 400,
    code: 'invalid_address_checksum',
  },
  { name: 'not an address', body: { ...valid, to: '0x1234' }, status: 400, code: 'invalid_address' },
  {
    name: 'zero address recipient',
    body: { ...valid, to: '0x0000000000000000000000000000000000000000' },
    status: 400,
    code: 'zero_address_recipient',
  },
  { name: 'negative amount', body: { ...valid, amount: '-1' }, status: 400, code: 'invalid_amount' },
  { name: 'exponent amount', body: { ...valid, amount: '1e18' }, status: 400, code: 'invalid_amount' },
  { name: 'hex amount', body: { ...valid, amount: '0x10' }, status: 400, code: 'invalid_amount' },
  { name: 'amount as a JSON number', body: { ...valid, amount: 1 }, status: 400, code: 'invalid_request' },
  {
    name: 'more fractional digits than 18 decimals',
    body: { ...valid, amount: '0.0000000000000000001' },
    status: 400,
    code: 'amount_too_precise',
  },
  {
    name: 'amount overflowing 256 bits',
    body: { ...valid, amount: `1${'0'.repeat(60)}` },
    status: 400,
    code: 'amount_overflow',
  },
  { name: 'zero amount', body: { ...valid, amount: '0' }, status: 400, code: 'amount_zero' },
  { name: 'unconfigured chain', body: { ...valid, chainId: 1 }, status: 400, code: 'chain_not_configured' },
  {
    name: 'chain id as a string (no coercion)',
    body: { ...valid, chainId: '31337' },
    status: 400,
    code: 'invalid_request',
  },
  { name: 'unknown intent type', body: { ...valid, type: 'drain' }, status: 400, code: 'invalid_request' },
  {
    name: 'missing amount',
    body: { type: 'transfer', chainId: 31337, to: TO, asset: 'native' },
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'odd-length calldata',
    body: { type: 'contract_call', chainId: 31337, to: TO, data: '0xabc' },
    status: 400,
    code: 'invalid_calldata',
  },
  { name: 'memo over 256 characters', body: { ...valid, memo: 'x'.repeat(257) }, status: 400, code: 'invalid_request' },
  {
    name: 'token that is not a contract',
    body: { ...valid, asset: ANVIL_ACCOUNTS[5].address },
    status: 422,
    code: 'asset_unknown',
  },
  { name: 'malformed JSON', body: '{"type":"transfer",', status: 400, code: 'invalid_json' },
  {
    name: '__proto__ poisoning',
    body: `{"type":"transfer","chainId":31337,"to":"${TO}","asset":"native","amount":"1","__proto__":{"admin":true}}`,
    status: 400,
    code: 'invalid_json',
  },
  { name: 'body over 16 KiB', body: { ...valid, memo: 'x'.repeat(17 * 1024) }, status: 413, code: 'payload_too_large' },
  {
    name: 'Idempotency-Key with a space',
    body: valid,
    status: 400,
    code: 'invalid_idempotency_key',
    headers: { 'idempotency-key': 'a b' },
  },
];

describe('bad input is refused with its code and changes nothing but the audit log', () => {
  const ctx = stackWithToken();

  for (const c of CASES) {
    test(`${c.name} → ${c.status} ${c.code}`, async () => {
      const res = await postIntent(ctx.stack.baseUrl, ctx.token, c.body, c.headers);
      assert.equal(res.status, c.status, JSON.stringify(res.body));
      assert.equal(res.body.code, c.code);
      assert.equal(typeof res.body.message, 'string');
      assert.ok(!('intent' in res.body), 'no intent is created for bad input');
    });
  }

  test('a non-JSON content type is refused with unsupported_media_type', async () => {
    const res = await fetch(`${ctx.stack.baseUrl}/v1/intents`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${ctx.token}` },
      body: JSON.stringify(valid),
    });
    assert.equal(res.status, 415);
    assert.equal(((await res.json()) as { code: string }).code, 'unsupported_media_type');
  });

  test('without a bearer ctx.token nothing is parsed: 401 unauthenticated even for a bad body', async () => {
    const res = await fetch(`${ctx.stack.baseUrl}/v1/intents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{bad',
    });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { code: string }).code, 'unauthenticated');
  });

  test('after all of the above: no intent, no event, no nonce, nothing on chain; one audit record per refusal', async () => {
    const counts = await ctx.stack.pool.query(
      `SELECT (SELECT count(*)::int FROM intents) AS intents, (SELECT count(*)::int FROM intent_events) AS events,
              (SELECT count(*)::int FROM nonces) AS nonces`,
    );
    assert.deepEqual(counts.rows[0], { intents: 0, events: 0, nonces: 0 });
    assert.equal(await ctx.stack.chain.getTransactionCount({ address: ctx.stack.signerAddress }), 0);
    // Boot writes its own records (policy version import, the dev price seed); everything since is a refusal.
    const audit = await ctx.stack.pool.query<{ action: string; actor: string; record: string }>(
      `SELECT action, actor, record FROM audit_log WHERE actor NOT LIKE 'system:%' ORDER BY seq`,
    );
    assert.ok(audit.rows.every((r) => r.action === 'intent.refused' && r.actor === `agent:${ctx.stack.agent.agentId}`));
    const codes = audit.rows.map((r) => (JSON.parse(r.record) as { data: { code: string } }).data.code);
    assert.deepEqual(codes.sort(), [...CASES.map((c) => c.code), 'unsupported_media_type'].sort());
  });
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPIENTS, callJson, count, postIntent, startStack, type Stack } from './support/stack.ts';

/**
 * Cost circuit breakers on an agent's scope. ETH is priced at 1 USD, so "10" ETH is 10 USD plus a worst-case fee of a
 * few micro-dollars; thresholds are set to the exact spend the gateway reports, so each level is entered exactly at
 * its threshold (and not one micro-dollar below).
 */
describe('cost circuit breakers', () => {
  let stack: Stack;
  let owner: string;
  let admin: string;
  let agent: { agentId: string; apiKey: string };
  let token: string;
  const scope = (): string => `agent:${agent.agentId}`;

  before(async () => {
    stack = await startStack({
      env: {
        DEV_NATIVE_PRICE_USD: '1',
        CIRCUIT_BREAKER_HARD_ALLOWLIST: RECIPIENTS[0]!,
        CIRCUIT_BREAKER_HARD_CAP_USD: '20',
      },
    });
    owner = await stack.loginAs('owner');
    admin = await stack.loginAs('admin');
    agent = await stack.newAgent('breaker-bot');
    token = await stack.token(agent.apiKey);
  });
  after(async () => stack?.stop());

  const send = (to: string, amount: string) =>
    postIntent(stack.baseUrl, token, { type: 'transfer', chainId: 31337, to, asset: 'native', amount });
  const breaker = async (): Promise<{ level: string; state: string; spendUsd: string; latchedAt: string | null }> => {
    const costs = await callJson(stack.baseUrl, owner, 'GET', '/admin/costs');
    assert.equal(costs.status, 200);
    return costs.body.scopes.find((s: { scope: string }) => s.scope === scope()).breaker;
  };
  const setThreshold = async (
    field: 'warningUsd' | 'softUsd' | 'hardUsd' | 'emergencyUsd',
    usd: string,
  ): Promise<void> => {
    const res = await callJson(stack.baseUrl, owner, 'PUT', '/admin/costs/limits', {
      scope: scope(),
      breaker: { [field]: usd },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  /** "12.5" + 0.000001 → "12.500001", exactly (string arithmetic in micro-dollars). */
  const plusOneMicro = (usd: string): string => {
    const [whole, fraction = ''] = usd.split('.');
    const micros = BigInt(whole!) * 1_000_000n + BigInt((fraction + '000000').slice(0, 6)) + 1n;
    return `${micros / 1_000_000n}.${(micros % 1_000_000n).toString().padStart(6, '0')}`;
  };
  const reasons = (res: { body: any }): string[] =>
    (res.body.intent ?? res.body).decision.reasons.map((r: { code: string }) => r.code);

  /** Each level is entered at its threshold exactly: one micro-dollar below it, the scope is still at the level before. */
  async function enterAtThreshold(
    field: 'warningUsd' | 'softUsd' | 'hardUsd' | 'emergencyUsd',
    before: string,
    level: string,
  ): Promise<void> {
    // Receipts true spend down to what was paid; read it once every intent has settled, so it holds still.
    for (let i = 0; i < 200; i++) {
      const open = await stack.pool.query(
        `SELECT 1 FROM intents WHERE agent_id = $1 AND spend_state IN ('reserved', 'committed')`,
        [agent.agentId],
      );
      if (open.rowCount === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const { spendUsd } = await breaker();
    await setThreshold(field, plusOneMicro(spendUsd));
    assert.equal((await breaker()).level, before, `${field} just above the spend: still ${before}`);
    await setThreshold(field, spendUsd);
    assert.equal((await breaker()).level, level, `${field} equal to the spend: ${level}`);
  }

  test('warning (yellow) is entered at its threshold, alerts, and still lets intents through', async () => {
    const first = await send(RECIPIENTS[1]!, '50');
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.decision.money.breaker, 'green');
    await enterAtThreshold('warningUsd', 'normal', 'warning');
    assert.equal((await breaker()).state, 'yellow');

    const next = await send(RECIPIENTS[1]!, '10');
    assert.equal(next.status, 201);
    assert.equal(next.body.decision.money.breaker, 'yellow');
    const alerts = await stack.pool.query(
      `SELECT severity, detail FROM alerts WHERE kind = 'breaker_level_changed' AND detail->>'scope' = $1`,
      [scope()],
    );
    assert.deepEqual(
      alerts.rows.map((r) => [r.severity, r.detail.to]),
      [['high', 'warning']],
    );
    const audit = await count(
      stack.pool,
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'breaker.level_changed' AND subject = $1`,
      [`scope:${scope()}`],
    );
    assert.equal(audit, 1);
  });

  test('soft (orange) sends every intent the policy would auto-approve to a human', async () => {
    await enterAtThreshold('softUsd', 'warning', 'soft');
    assert.equal((await breaker()).state, 'orange');
    const res = await send(RECIPIENTS[1]!, '10');
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.status, 'pending_approval');
    assert.equal(res.body.decision.action, 'require_human_approval');
    assert.ok(reasons(res).includes('breaker.soft'));
    assert.equal(res.body.decision.money.reservedUsd, '0', 'nothing is reserved until a human approves');
  });

  test('hard (red) allows only allowlisted recipients under the hard cap', async () => {
    await enterAtThreshold('hardUsd', 'soft', 'hard');
    assert.equal((await breaker()).state, 'red');
    const elsewhere = await send(RECIPIENTS[1]!, '5');
    assert.deepEqual([elsewhere.status, elsewhere.body.intent.status], [403, 'rejected']);
    assert.ok(reasons(elsewhere).includes('breaker.hard'));
    const overCap = await send(RECIPIENTS[0]!, '25');
    assert.equal(overCap.status, 403);
    assert.ok(reasons(overCap).includes('breaker.hard'));
    const allowed = await send(RECIPIENTS[0]!, '5');
    assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
    assert.equal(allowed.body.decision.money.breaker, 'red');
  });

  test('emergency blocks everything, stays latched, and only an owner can reset it', async () => {
    await enterAtThreshold('emergencyUsd', 'hard', 'emergency');
    const blocked = await send(RECIPIENTS[0]!, '1');
    assert.equal(blocked.status, 403);
    assert.ok(reasons(blocked).includes('breaker.emergency'));
    assert.ok((await breaker()).latchedAt, 'the emergency latched when a decision saw it');

    // Raising the threshold does not unlatch it: nothing is signed until an owner resets it.
    await setThreshold('emergencyUsd', '100000');
    assert.equal((await breaker()).level, 'emergency');
    const stillBlocked = await send(RECIPIENTS[0]!, '1');
    assert.ok(reasons(stillBlocked).includes('breaker.emergency'));

    const byAdmin = await callJson(stack.baseUrl, admin, 'POST', '/admin/costs/reset', {
      scope: scope(),
      reason: 'trying',
    });
    assert.deepEqual([byAdmin.status, byAdmin.body.code], [403, 'forbidden']);
    const byAgent = await callJson(stack.baseUrl, token, 'POST', '/admin/costs/reset', {
      scope: scope(),
      reason: 'trying',
    });
    assert.equal(byAgent.status, 403);
    assert.ok((await breaker()).latchedAt, 'a refused reset changes nothing');

    const reset = await callJson(stack.baseUrl, owner, 'POST', '/admin/costs/reset', {
      scope: scope(),
      reason: 'incident closed',
    });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    const state = await breaker();
    assert.deepEqual([state.level, state.latchedAt, state.spendUsd], ['normal', null, '0']);
    const after = await send(RECIPIENTS[1]!, '1');
    assert.equal(after.status, 201, JSON.stringify(after.body));
    const audit = await stack.pool.query(
      `SELECT record::jsonb->'data' AS data FROM audit_log WHERE action = 'breaker.reset' AND subject = $1`,
      [`scope:${scope()}`],
    );
    assert.deepEqual(
      audit.rows.map((r) => r.data.reason),
      ['incident closed'],
    );
  });
});

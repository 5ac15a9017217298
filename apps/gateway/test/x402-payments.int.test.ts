// x402 payments end to end with the REAL reference packages from npm, unmodified (support/x402-resource.ts): a
// resource server built with @x402/hono and a local facilitator built from @x402/core and @x402/evm, both on anvil with
// an EIP-3009 token compiled with solc. The agent pays with the SDK's `client.fetch` through the gateway.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Clawd402Client, Clawd402ClientError, readSettlement } from '@clawd402/sdk';
import { RECIPIENTS, TEST_POLICY, callJson, startStack, type Stack } from './support/stack.ts';
import {
  X402_NETWORK as NETWORK,
  X402_OTHER_PAYEE as OTHER_PAYEE,
  X402_PAYEE as PAYEE,
  X402_PRICE as PRICE,
  X402_STACK_ENV,
  X402_TOKEN as TOKEN,
  startX402Resource,
  x402Policy,
  type X402Resource,
} from './support/x402-resource.ts';

/** x402 payments to 127.0.0.1 of at most `maxPaymentUsd`, and TEST_POLICY's transfers. */
const policy = (maxPaymentUsd: string) => x402Policy(maxPaymentUsd, TEST_POLICY.replace('policies:\n', ''));

describe('x402 payments through the gateway', { timeout: 600_000 }, () => {
  let stack: Stack;
  let owner: string;
  let resource: X402Resource;
  let resourceUrl: string;
  const client = (apiKey: string) => new Clawd402Client({ apiUrl: stack.baseUrl, apiKey, network: 'anvil' });
  const balanceOf = (who: `0x${string}`) => resource.balanceOf(who);
  const setDailyLimit = async (agentId: string, dailyLimitUsd: string) => {
    const set = await callJson(stack.baseUrl, owner, 'PUT', '/admin/costs/limits', {
      scope: `agent:${agentId}`,
      dailyLimitUsd,
      hourlyLimitUsd: dailyLimitUsd,
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
  };
  const x402Intents = async (agentId: string) =>
    (
      await stack.pool.query<{
        status: string;
        spend_state: string | null;
        signature: string | null;
        channel: string | null;
      }>(
        `SELECT status, spend_state, signature, origin->>'channel' AS channel FROM intents
          WHERE agent_id = $1 AND type = 'x402_payment' ORDER BY created_at`,
        [agentId],
      )
    ).rows;

  before(async () => {
    stack = await startStack({ policy: policy('0.05'), env: { ...X402_STACK_ENV } });
    owner = await stack.loginAs('owner');
    resource = await startX402Resource(stack, [
      { path: '/data', description: 'one datum' },
      { path: '/moved', payTo: OTHER_PAYEE, description: 'the payee changed' },
      { path: '/slow', maxTimeoutSeconds: 86_400, description: 'a day' },
    ]);
    resourceUrl = resource.url;
  });
  after(async () => {
    await resource?.stop();
    await stack?.stop();
  });

  test('client.fetch pays through the gateway: facilitator verifies and settles, the payee gets exactly the price, the budget shows it', async () => {
    const { agentId, apiKey } = await stack.newAgent('x402-buyer');
    await setDailyLimit(agentId, '5');
    const agent = client(apiKey);
    const before = await balanceOf(PAYEE);
    const unpaid = await fetch(`${resourceUrl}/data`);
    assert.equal(unpaid.status, 402);

    const response = await agent.fetch(`${resourceUrl}/data`);
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), { datum: 42, path: '/data' });
    const settlement = readSettlement(response);
    assert.equal(settlement?.success, true, JSON.stringify(settlement));
    assert.match(String(settlement?.transaction), /^0x[0-9a-f]{64}$/);
    assert.equal((await balanceOf(PAYEE)) - before, BigInt(PRICE));

    const [intent] = await x402Intents(agentId);
    assert.ok(intent);
    assert.match(intent.signature!, /^0x[0-9a-f]{130}$/);
    const budget = await agent.budget();
    const day = budget.find((b) => b.scope === 'agent' && b.window === '24h');
    assert.equal(day?.spentUsd, '0.01', JSON.stringify(budget));
    // The settlement sweep sees the transfer on chain (authorizationState) and commits the reservation.
    const deadline = Date.now() + 30_000;
    let rows = await x402Intents(agentId);
    while (rows[0]?.status !== 'confirmed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      rows = await x402Intents(agentId);
    }
    assert.deepEqual(
      rows.map((r) => [r.status, r.spend_state, r.channel]),
      [['confirmed', 'committed', 'x402']],
    );
  });

  test('the same payment id and requirements answer the same authorisation (never paid twice)', async () => {
    const { apiKey } = await stack.newAgent('x402-retry');
    const agent = client(apiKey);
    const requirements = await resource.requirementsOf('/data');
    const ask = () =>
      agent.payX402({
        chainId: 31337,
        resource: `${resourceUrl}/data`,
        x402Version: 2,
        requirements: requirements as never,
        idempotencyKey: 'x402-same-request',
      });
    const [first, second] = await Promise.all([ask(), ask()]);
    assert.equal(first.id, second.id);
    assert.deepEqual(first.x402?.authorization, second.x402?.authorization);
    assert.equal(first.signing?.signature, second.signing?.signature);
  });

  test('the operator lowers the cap with a new policy version: the next paid fetch is refused, nothing signed, nothing reserved', async () => {
    const { agentId, apiKey } = await stack.newAgent('x402-capped');
    await setDailyLimit(agentId, '5');
    const agent = client(apiKey);
    const paid = await agent.fetch(`${resourceUrl}/data`);
    assert.equal(paid.status, 200, await paid.clone().text());
    const spentUsd = async () =>
      (await agent.budget()).find((b) => b.scope === 'agent' && b.window === '24h')?.spentUsd;
    assert.equal(await spentUsd(), '0.01');

    // 0.01 USD a request is above the new cap of 0.005, through the admin policy API (docs/policy-lifecycle.md).
    const uploaded = await fetch(`${stack.baseUrl}/admin/policies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/yaml' },
      body: policy('0.005'),
    });
    const version = (await uploaded.json()) as { version: number; hash: string; lint: { errors: unknown[] } };
    assert.equal(uploaded.status, 201, JSON.stringify(version));
    const activated = await callJson(stack.baseUrl, owner, 'POST', `/admin/policies/${version.version}/activate`);
    assert.equal(activated.status, 200, JSON.stringify(activated.body));
    try {
      const servedBefore = resource.served();
      const balanceBefore = await balanceOf(PAYEE);
      const error = (await agent.fetch(`${resourceUrl}/data`).catch((e: unknown) => e)) as Clawd402ClientError;
      assert.ok(error instanceof Clawd402ClientError, String(error));
      assert.equal(error.code, 'policy_denied');
      assert.equal(error.intent?.decision?.policySetHash, version.hash); // decided by the new version
      assert.equal(error.intent?.decision?.policy, 'deny_rest');
      assert.equal(resource.served(), servedBefore); // the resource was not served
      assert.equal(await balanceOf(PAYEE), balanceBefore);
      // One authorisation in all (the first payment's): the refused one was recorded, never signed nor reserved.
      const rows = await x402Intents(agentId);
      assert.deepEqual(rows.map((r) => [r.status, r.signature === null, r.spend_state]).slice(1), [
        ['rejected', true, null],
      ]);
      assert.notEqual(rows[0]!.signature, null);
      assert.equal(await spentUsd(), '0.01'); // the budget is unchanged
    } finally {
      // Roll back to the boot version (docs/policy-lifecycle.md) for the tests that follow.
      const back = await callJson(stack.baseUrl, owner, 'POST', '/admin/policies/1/activate');
      assert.equal(back.status, 200, JSON.stringify(back.body));
    }
  });

  test('hostile 402s are refused with their own codes before anything is recorded or signed', async () => {
    const { agentId, apiKey } = await stack.newAgent('x402-hostile');
    const agent = client(apiKey);
    const servedBefore = resource.served();
    const refusal = async (path: string) => {
      const error = (await agent.fetch(`${resourceUrl}${path}`).catch((e: unknown) => e)) as Clawd402ClientError;
      assert.ok(error instanceof Clawd402ClientError, String(error));
      return error.code;
    };
    assert.equal(await refusal('/moved'), 'x402_payee_changed');
    assert.equal(await refusal('/slow'), 'x402_validity_too_long');
    const body = (requirements: unknown) => ({
      chainId: 31337,
      resource: `${resourceUrl}/data`,
      x402Version: 2 as const,
      requirements: requirements as never,
      idempotencyKey: crypto.randomUUID(),
    });
    const good = {
      scheme: 'exact',
      network: NETWORK,
      asset: TOKEN,
      amount: PRICE,
      payTo: PAYEE,
      maxTimeoutSeconds: 300,
      extra: { name: 'USD Coin', version: '2' },
    };
    const codeOf = async (requirements: unknown) =>
      ((await agent.payX402(body(requirements)).catch((e: unknown) => e)) as Clawd402ClientError).code;
    assert.equal(await codeOf({ ...good, asset: RECIPIENTS[0] }), 'x402_asset_not_configured');
    assert.equal(await codeOf({ ...good, network: 'eip155:1' }), 'x402_network_mismatch');
    assert.equal(await codeOf({ ...good, scheme: 'upto' }), 'x402_scheme_unsupported');
    assert.equal(await codeOf({ ...good, amount: '-1' }), 'x402_requirements_malformed');
    assert.equal(await codeOf({ ...good, extra: {} }), 'x402_requirements_malformed');
    assert.equal(
      await codeOf({ ...good, extra: { name: 'x'.repeat(9000), version: '2' } }),
      'x402_requirements_too_large',
    );
    assert.equal(await codeOf({ ...good, amount: '2000000' }), 'x402_amount_above_cap');
    assert.equal(resource.served(), servedBefore);
    assert.deepEqual(await x402Intents(agentId), []);
  });

  test('20 parallel paid fetches against a budget of 10 payments a day: exactly 10 paid', async () => {
    const { agentId, apiKey } = await stack.newAgent('x402-parallel');
    await setDailyLimit(agentId, '0.10');
    const agent = client(apiKey);
    const before = await balanceOf(PAYEE);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => agent.fetch(`${resourceUrl}/data`)));
    const paid = results.filter((r) => r.status === 'fulfilled' && r.value.status === 200);
    const refused = results.filter(
      (r) => r.status === 'rejected' && (r.reason as Clawd402ClientError).code === 'policy_denied',
    );
    assert.equal(
      paid.length,
      10,
      JSON.stringify(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.value.status))),
    );
    assert.equal(refused.length, 10);
    assert.equal((await balanceOf(PAYEE)) - before, 10n * BigInt(PRICE));
    const day = (await agent.budget()).find((b) => b.scope === 'agent' && b.window === '24h');
    assert.equal(day?.spentUsd, '0.1');
  });

  test('one budget: an on-chain token transfer and x402 payments draw from the same daily USD limit', async () => {
    const { agentId, apiKey } = await stack.newAgent('x402-one-budget');
    await setDailyLimit(agentId, '10');
    const agent = client(apiKey);
    const transfer = await agent.execute({
      action: 'transfer',
      to: RECIPIENTS[0]!,
      asset: TOKEN,
      amount: '0.03',
      wait: true,
    });
    assert.equal(transfer.status, 'confirmed');
    // What the transfer counts once trued up from its receipt (0.03 USD and its fee at anvil's 2,000 USD ETH), then
    // room for one 0.01 payment, not two.
    const settledSpend = async () =>
      (
        await stack.pool.query<{ state: string; usd: string }>(
          'SELECT spend_state AS state, spend_usd_micros AS usd FROM intents WHERE id = $1',
          [transfer.intent.id],
        )
      ).rows[0]!;
    let row = await settledSpend();
    for (let i = 0; i < 150 && row.state !== 'settled'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      row = await settledSpend();
    }
    assert.equal(row.state, 'settled');
    const spent = Number(row.usd) / 1e6;
    assert.ok(spent >= 0.03, String(spent));
    await setDailyLimit(agentId, (Number(spent) + 0.015).toFixed(6));
    const paid = await agent.fetch(`${resourceUrl}/data`);
    assert.equal(paid.status, 200); // spent + 0.01 <= spent + 0.015
    const error = (await agent.fetch(`${resourceUrl}/data`).catch((e: unknown) => e)) as Clawd402ClientError;
    assert.equal(error.code, 'policy_denied'); // spent + 0.02 > spent + 0.015
    assert.ok(
      error.reasons.some((r) => r.code === 'spend.limit_exceeded'),
      JSON.stringify(error.reasons),
    );
  });
});

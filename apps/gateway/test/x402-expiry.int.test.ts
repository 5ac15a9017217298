// x402 authorisations at the end of their window (docs/x402.md, "Settlement and the budget"): a signed authorisation
// nobody uses keeps its spend reserved until the latest block is EXPIRY_MARGIN_SECONDS past `validBefore`, then is
// released; one used just before `validBefore` is spent, never released. Real stack and the reference x402 server and
// facilitator (support/x402-resource.ts) on anvil, whose clock the tests move (`anvil_setNextBlockTimestamp` + mine).
// The stack runs without its clocks (tracker: false), so each settlement pass is one the test drives: nothing races.
// A settlement moves the intent's status and its spend in one transaction; the first test holds it to that.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestClient, http, type Hex } from 'viem';
import { Clawd402Client, readSettlement } from '@clawd402/sdk';
import { EXPIRY_MARGIN_SECONDS } from '../src/intent-path/x402-settlement.ts';
import { callJson, startStack, type Stack } from './support/stack.ts';
import {
  X402_PAYEE,
  X402_PRICE,
  X402_STACK_ENV,
  startX402Resource,
  x402Policy,
  type X402Resource,
} from './support/x402-resource.ts';

describe('x402 authorisations at their expiry', { timeout: 300_000 }, () => {
  let stack: Stack;
  let resource: X402Resource;
  let anvil: ReturnType<typeof createTestClient>;

  /** A block stamped `timestamp` becomes the latest. */
  const mineAt = async (timestamp: bigint) => {
    await anvil.setNextBlockTimestamp({ timestamp });
    await anvil.mine({ blocks: 1 });
  };
  const sweep = () => stack.app.services.x402Settlement.sweep();
  const payment = async (id: string) =>
    (
      await stack.pool.query<{ status: string; spend_state: string; valid_before: string }>(
        `SELECT status, spend_state, signing_request->'x402'->'authorization'->>'validBefore' AS valid_before
           FROM intents WHERE id = $1`,
        [id],
      )
    ).rows[0]!;
  /** A new agent with a 5 USD daily limit, and a function answering what its 24 h budget has spent. */
  const buyer = async (name: string) => {
    const { agentId, apiKey } = await stack.newAgent(name);
    const set = await callJson(stack.baseUrl, await stack.loginAs('owner'), 'PUT', '/admin/costs/limits', {
      scope: `agent:${agentId}`,
      dailyLimitUsd: '5',
      hourlyLimitUsd: '5',
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const client = new Clawd402Client({ apiUrl: stack.baseUrl, apiKey, network: 'anvil' });
    const spentUsd = async () =>
      Number((await client.budget()).find((b) => b.scope === 'agent' && b.window === '24h')?.spentUsd);
    return { agentId, client, spentUsd };
  };

  before(async () => {
    stack = await startStack({ policy: x402Policy(), env: { ...X402_STACK_ENV }, tracker: false });
    resource = await startX402Resource(stack, [
      { path: '/data', description: 'one datum, an authorisation valid 300 s' },
      { path: '/quick', maxTimeoutSeconds: 60, description: 'one datum, an authorisation valid 60 s' },
    ]);
    anvil = createTestClient({ mode: 'anvil', transport: http(stack.anvil.rpcUrl) });
  });
  after(async () => {
    await resource?.stop();
    await stack?.stop();
  });

  // Before any test moves anvil's clock: this payment is settled at the chain's own time.
  test('a settlement whose spend change fails leaves the payment signed and reserved: status and spend move together', async () => {
    const { agentId, client, spentUsd } = await buyer('x402-atomic');
    const response = await client.fetch(`${resource.url}/data`);
    assert.equal(response.status, 200, await response.clone().text());
    const [row] = (
      await stack.pool.query<{ id: string }>(`SELECT id FROM intents WHERE agent_id = $1 AND type = 'x402_payment'`, [
        agentId,
      ])
    ).rows;
    const id = row!.id;
    // Postgres refuses this intent's spend moving to `committed`, as a failed or lost write would.
    await stack.pool.query(`CREATE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'test: the spend change fails'; END $$`);
    await stack.pool.query(`CREATE TRIGGER test_refuse_commit BEFORE UPDATE ON intents FOR EACH ROW
      WHEN (NEW.id = '${id}' AND NEW.spend_state = 'committed') EXECUTE FUNCTION test_refuse_commit()`);
    try {
      assert.deepEqual(await sweep(), { settled: 0, expired: 0 });
      const kept = await payment(id);
      assert.deepEqual([kept.status, kept.spend_state], ['signed', 'reserved']);
    } finally {
      await stack.pool.query('DROP TRIGGER test_refuse_commit ON intents');
      await stack.pool.query('DROP FUNCTION test_refuse_commit()');
    }
    // Still open, so the next pass settles it.
    assert.deepEqual(await sweep(), { settled: 1, expired: 0 });
    const settled = await payment(id);
    assert.deepEqual([settled.status, settled.spend_state], ['confirmed', 'committed']);
    assert.equal(await spentUsd(), 0.01);
  });

  // First, with a 60 s window: it leaves anvil's clock about 480 s ahead, short of where the next test (a 300 s window
  // signed after this one) moves it, so that test's blocks can still be stamped in order.
  test('an authorisation used in the last second of its window is spent, never released, even when first seen after the margin', async () => {
    const { agentId, client, spentUsd } = await buyer('x402-last-second');
    const before = await resource.balanceOf(X402_PAYEE);
    // The paid retry carries the signed authorisation: stamp the block that settles it validBefore − 1.
    let validBefore = 0n;
    const lastSecond: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      const header = request.headers.get('payment-signature');
      if (header !== null) {
        const signed = JSON.parse(Buffer.from(header, 'base64').toString()) as {
          payload: { authorization: { validBefore: string } };
        };
        validBefore = BigInt(signed.payload.authorization.validBefore);
        await anvil.setNextBlockTimestamp({ timestamp: validBefore - 1n });
      }
      return fetch(request);
    };
    const response = await client.wrapFetch(lastSecond)(`${resource.url}/quick`);
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal((await resource.balanceOf(X402_PAYEE)) - before, BigInt(X402_PRICE));
    const [row] = (
      await stack.pool.query<{ id: string }>(`SELECT id FROM intents WHERE agent_id = $1 AND type = 'x402_payment'`, [
        agentId,
      ])
    ).rows;
    const id = row!.id;
    const settlement = readSettlement(response);
    assert.equal(settlement?.success, true, JSON.stringify(settlement));
    const receipt = await stack.chain.getTransactionReceipt({ hash: settlement?.transaction as Hex });
    assert.equal((await stack.chain.getBlock({ blockNumber: receipt.blockNumber })).timestamp, validBefore - 1n);
    assert.equal((await payment(id)).valid_before, validBefore.toString());

    // No pass ran while the window was open; the first one runs once the chain is far past validBefore + the margin.
    await mineAt(validBefore + EXPIRY_MARGIN_SECONDS + 60n);
    assert.deepEqual(await sweep(), { settled: 1, expired: 0 });
    assert.deepEqual(await payment(id), {
      status: 'confirmed',
      spend_state: 'committed',
      valid_before: validBefore.toString(),
    });
    assert.equal(await spentUsd(), 0.01);
    await mineAt(validBefore + EXPIRY_MARGIN_SECONDS + 120n);
    await sweep();
    assert.equal((await payment(id)).spend_state, 'committed');
    assert.equal(await spentUsd(), 0.01);
    // The tracker's spend reconciliation closes a settled payment at its value: it paid no gas of ours, and releasing
    // it (as for an intent that never reached the chain) would let the agent spend the same budget again.
    await stack.app.services.tracker.reconcileSpend();
    assert.notEqual((await payment(id)).spend_state, 'released');
    assert.equal(await spentUsd(), 0.01);
  });

  test('a signed authorisation never used stays reserved until the latest block is the margin past validBefore, then is released and audited', async () => {
    assert.equal(EXPIRY_MARGIN_SECONDS, 300n); // docs/x402.md: 5 minutes
    const { client, spentUsd } = await buyer('x402-unused');
    const signed = await client.payX402({
      chainId: 31337,
      resource: `${resource.url}/data`,
      x402Version: 2,
      requirements: (await resource.requirementsOf('/data')) as never,
      idempotencyKey: crypto.randomUUID(),
    });
    assert.equal(signed.status, 'signed');
    const validBefore = BigInt(signed.x402!.authorization.validBefore);
    const nonce = signed.x402!.authorization.nonce;
    assert.deepEqual(await payment(signed.id), {
      status: 'signed',
      spend_state: 'reserved',
      valid_before: validBefore.toString(),
    });
    assert.equal(await spentUsd(), 0.01);

    // One second short of the margin: the authorisation is long unusable, but a reorganisation could still bring its
    // transfer back, so the spend stays reserved.
    await mineAt(validBefore + EXPIRY_MARGIN_SECONDS - 1n);
    assert.deepEqual(await sweep(), { settled: 0, expired: 0 });
    assert.equal((await payment(signed.id)).spend_state, 'reserved');
    assert.equal(await spentUsd(), 0.01);

    await mineAt(validBefore + EXPIRY_MARGIN_SECONDS);
    assert.deepEqual(await sweep(), { settled: 0, expired: 1 });
    assert.deepEqual(await payment(signed.id), {
      status: 'expired',
      spend_state: 'released',
      valid_before: validBefore.toString(),
    });
    assert.equal(await spentUsd(), 0);
    assert.equal((await client.intent(signed.id)).status, 'expired');
    const audited = await stack.pool.query<{ actor: string; record: string }>(
      `SELECT actor, record FROM audit_log WHERE action = 'intent.x402_expired' AND subject = $1`,
      [`intent:${signed.id}`],
    );
    assert.equal(audited.rows.length, 1);
    assert.equal(audited.rows[0]!.actor, 'system:gateway');
    assert.equal((JSON.parse(audited.rows[0]!.record) as { data: { nonce: string } }).data.nonce, nonce);
    // Released once: a later pass changes nothing.
    assert.deepEqual(await sweep(), { settled: 0, expired: 0 });
    assert.equal(await spentUsd(), 0);
  });
});

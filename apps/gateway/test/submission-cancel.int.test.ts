// Cancellation by agents and operators, and fee caps (docs/submission.md). Automine is off: a transaction waits in
// anvil's pool until the test mines, so a cancellation can replace it; the tracker runs when the test calls it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGwei, type Hex } from 'viem';
import { buildApp } from '../src/app.ts';
import { findIntent } from '../src/repositories/intents-repository.ts';
import { SigningLanes } from '../src/intent-path/10-sign.ts';
import { RECIPIENTS, callJson, getJson, insertApprovedTransfer } from './support/stack.ts';
import { postNativeTransfer } from './support/suite.ts';
import { manualStackWithToken, poolOf, rpc } from './support/submission.ts';

describe('cancellation and fee caps', () => {
  const ctx = manualStackWithToken();

  const send = async (to = RECIPIENTS[0]!) => {
    const res = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, to, '0.5');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; nonce: number; txHash: Hex; status: string };
  };
  const mineAndSettle = async () => {
    await rpc(ctx.stack.anvil.rpcUrl, 'evm_mine');
    await ctx.stack.app.services.tracker.poll();
  };
  const view = async (id: string) => (await getJson(`${ctx.stack.baseUrl}/v1/intents/${id}`, ctx.token)).body;

  test('an agent cancels its pending transfer: a zero-value self-transfer at the same nonce replaces it, and nothing moves', async () => {
    const recipient = RECIPIENTS[5]!;
    const balance = await ctx.stack.chain.getBalance({ address: recipient });
    const pending = await send(recipient);
    const original = (await poolOf(ctx.stack.anvil.rpcUrl, ctx.stack.signerAddress)).get(pending.nonce)!;

    const res = await callJson(ctx.stack.baseUrl, ctx.token, 'POST', `/v1/intents/${pending.id}/cancel`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.nonce, pending.nonce);
    const cancel = (await poolOf(ctx.stack.anvil.rpcUrl, ctx.stack.signerAddress)).get(pending.nonce)!;
    assert.equal(cancel.hash, res.body.txHash);
    assert.equal(cancel.to.toLowerCase(), ctx.stack.signerAddress.toLowerCase());
    assert.equal(cancel.value, 0n);
    assert.ok(
      cancel.maxFeePerGas * 100n >= original.maxFeePerGas * 110n &&
        cancel.maxPriorityFeePerGas * 100n >= original.maxPriorityFeePerGas * 110n,
    );

    const again = await callJson(ctx.stack.baseUrl, ctx.token, 'POST', `/v1/intents/${pending.id}/cancel`);
    assert.equal(again.status, 202, 'asking twice changes nothing');
    assert.equal(again.body.txHash, res.body.txHash);

    await mineAndSettle();
    const done = await view(pending.id);
    assert.equal(done.status, 'cancelled');
    assert.equal(done.txHash, cancel.hash);
    assert.equal(await ctx.stack.chain.getBalance({ address: recipient }), balance);
    const spend = await ctx.stack.pool.query(
      'SELECT spend_state, spend_usd_micros::bigint AS usd, value_usd_micros::bigint AS value FROM intents WHERE id = $1',
      [pending.id],
    );
    assert.equal(spend.rows[0].spend_state, 'settled');
    assert.ok(
      BigInt(spend.rows[0].usd) < BigInt(spend.rows[0].value),
      'only the cancellation fee counts against the budgets',
    );
    const audit = await ctx.stack.pool.query(`SELECT actor, action FROM audit_log WHERE subject = $1 ORDER BY seq`, [
      `intent:${pending.id}`,
    ]);
    const actions = audit.rows.map((r: { action: string }) => r.action);
    assert.deepEqual(actions.slice(-2), ['intent.cancel_signed', 'intent.cancelled']);

    const ended = await callJson(ctx.stack.baseUrl, ctx.token, 'POST', `/v1/intents/${pending.id}/cancel`);
    assert.equal(ended.status, 200, 'a cancelled intent answers as it is');
    const confirmed = await send();
    await mineAndSettle();
    const late = await callJson(ctx.stack.baseUrl, ctx.token, 'POST', `/v1/intents/${confirmed.id}/cancel`);
    assert.equal(late.status, 409);
    assert.equal(late.body.code, 'intent_not_cancellable');
    assert.equal(late.body.details.status, 'confirmed');
  });

  test("SECURITY: an agent cannot cancel another agent's intent (404 as if missing) and a viewer cannot use the admin cancel", async () => {
    const victim = await send();
    const other = await ctx.stack.newAgent();
    const otherToken = await ctx.stack.token(other.apiKey);
    const res = await callJson(ctx.stack.baseUrl, otherToken, 'POST', `/v1/intents/${victim.id}/cancel`);
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'not_found');
    const viewer = await ctx.stack.loginAs('viewer');
    const admin = await callJson(ctx.stack.baseUrl, viewer, 'POST', `/admin/intents/${victim.id}/cancel`);
    assert.equal(admin.status, 403);
    assert.equal(admin.body.code, 'forbidden');
    const rows = await ctx.stack.pool.query('SELECT replacements, cancel_reason FROM intents WHERE id = $1', [
      victim.id,
    ]);
    assert.deepEqual(rows.rows[0], { replacements: 0, cancel_reason: null }, 'nothing was signed');

    const withBody = await callJson(ctx.stack.baseUrl, ctx.token, 'POST', `/v1/intents/${victim.id}/cancel`, {
      gasPrice: '1',
    });
    assert.equal(withBody.status, 400);
    assert.equal(withBody.body.code, 'unknown_field');

    const operator = await ctx.stack.loginAs('operator');
    const cancelled = await callJson(ctx.stack.baseUrl, operator, 'POST', `/admin/intents/${victim.id}/cancel`);
    assert.equal(cancelled.status, 202, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.transactions[0].kind, 'cancel');
    await mineAndSettle();
    assert.equal((await view(victim.id)).status, 'cancelled');
  });

  test('an intent not yet signed is cancelled at once, and a signing lane skips it; one past its deadline expires unsigned', async () => {
    const approve = () => insertApprovedTransfer(ctx.stack);
    const cancelledId = await approve();
    const res = await callJson(ctx.stack.baseUrl, ctx.token, 'POST', `/v1/intents/${cancelledId}/cancel`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'cancelled');
    assert.equal(res.body.txHash, null);

    const lateId = await approve();
    await ctx.stack.pool.query(`UPDATE intents SET deadline = now() - interval '1 second' WHERE id = $1`, [lateId]);
    const nonceBefore = (
      await ctx.stack.pool.query('SELECT next_nonce::int AS n FROM nonces WHERE address = $1', [
        ctx.stack.signerAddress,
      ])
    ).rows[0].n;
    // A lane that finds them so signs nothing: the ticket issuer and signer are never reached.
    const lanes = new SigningLanes({
      pool: ctx.stack.pool,
      chains: ctx.stack.app.services.chains,
      tickets: {} as never,
      signer: {} as never,
      log: ctx.stack.app.log,
    });
    const fees = { maxFeePerGas: parseGwei('2'), maxPriorityFeePerGas: parseGwei('1') };
    const [cancelled, expired] = await Promise.all(
      [cancelledId, lateId].map(async (id) =>
        lanes.sign({
          intent: (await findIntent(ctx.stack.pool, id))!,
          call: { to: RECIPIENTS[0]!, value: 1n, data: '0x' },
          gas: 21_000n,
          fees,
        }),
      ),
    );
    assert.equal(cancelled!.status, 'cancelled');
    assert.equal(expired!.status, 'expired');
    assert.equal(expired!.error?.code, 'deadline_passed');
    assert.equal(expired!.nonce, null);
    const nonceAfter = (
      await ctx.stack.pool.query('SELECT next_nonce::int AS n FROM nonces WHERE address = $1', [
        ctx.stack.signerAddress,
      ])
    ).rows[0].n;
    assert.equal(nonceAfter, nonceBefore, 'no nonce was consumed');
  });

  test("a fee quote above the chain's cap is refused with fee_cap_exceeded, and so is a speed-up that would pass it", async () => {
    const pending = await send();
    const before = (await ctx.stack.pool.query('SELECT count(*)::int AS n FROM intents')).rows[0].n;
    const capped = await buildApp(
      {
        ...ctx.stack.config,
        chains: [{ chainId: 31337, rpcUrl: ctx.stack.anvil.rpcUrl, maxFeePerGasCap: parseGwei('0.5') }],
      },
      { logger: false, tracker: false },
    );
    try {
      const baseUrl = await capped.listen({ host: '127.0.0.1', port: 0 });
      const res = await postNativeTransfer(baseUrl, ctx.token, RECIPIENTS[0]!, '0.01');
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.code, 'fee_cap_exceeded');
      assert.equal(res.body.details.field, 'maxFeePerGas');
      assert.equal(res.body.details.capWei, parseGwei('0.5').toString());
      assert.equal(
        (await ctx.stack.pool.query('SELECT count(*)::int AS n FROM intents')).rows[0].n,
        before,
        'nothing was recorded',
      );

      const operator = await ctx.stack.loginAs('operator');
      const sped = await callJson(baseUrl, operator, 'POST', `/admin/intents/${pending.id}/speed-up`);
      assert.equal(sped.status, 422);
      assert.equal(sped.body.code, 'fee_cap_exceeded');
    } finally {
      await capped.close();
    }
    await mineAndSettle();
    assert.equal((await view(pending.id)).status, 'confirmed');
  });
});

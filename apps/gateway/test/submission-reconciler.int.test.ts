// Stuck, dropped and jammed transactions (docs/submission.md). Automine is off, so transactions wait in anvil's pool
// until the test mines; the tracker runs only when the test calls it, so what the reconciler did is its own doing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Hex } from 'viem';
import { RECIPIENTS, callJson, getJson, postIntent } from './support/stack.ts';
import { manualStackWithToken, poolOf, rpc } from './support/submission.ts';

describe('the reconciler keeps addresses moving', () => {
  const ctx = manualStackWithToken();

  const services = () => ctx.stack.app.services;
  const send = async (to = RECIPIENTS[0]!, extra: Record<string, unknown> = {}) => {
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'transfer',
      chainId: 31337,
      to,
      asset: 'native',
      amount: '0.01',
      ...extra,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'submitted');
    return res.body as { id: string; nonce: number; txHash: Hex };
  };
  const mine = () => rpc(ctx.stack.anvil.rpcUrl, 'evm_mine');
  const mined = () => ctx.stack.chain.getTransactionCount({ address: ctx.stack.signerAddress });
  const pool = () => poolOf(ctx.stack.anvil.rpcUrl, ctx.stack.signerAddress);
  const view = async (id: string) => (await getJson(`${ctx.stack.baseUrl}/v1/intents/${id}`, ctx.token)).body;
  const settle = async () => {
    await services().tracker.poll();
  };

  test('a transaction dropped from the mempool is broadcast again, and the intents queued behind it mine', async () => {
    const first = await send();
    await rpc(ctx.stack.anvil.rpcUrl, 'anvil_dropTransaction', [first.txHash]);
    const second = await send();
    assert.equal(second.nonce, first.nonce + 1);
    await mine();
    assert.equal(await mined(), first.nonce, 'jammed: the second waits for the lost nonce');

    const report = await services().tracker.reconcile();
    assert.ok(report!.rebroadcast >= 1, JSON.stringify(report));
    await mine();
    await settle();
    assert.equal((await view(first.id)).status, 'confirmed');
    assert.equal((await view(second.id)).status, 'confirmed');

    const later = await send();
    assert.equal(later.nonce, second.nonce + 1);
    await mine();
    await settle();
    assert.equal((await view(later.id)).status, 'confirmed');
  });

  test('a tracker more than 50 blocks behind settles what is in flight from receipts in one poll', async () => {
    await settle();
    // 60 empty blocks, then one holding three of ours: a tracker reading 50 blocks a tick would not reach it.
    await rpc(ctx.stack.anvil.rpcUrl, 'anvil_mine', ['0x3c']);
    const sent = [await send(), await send(RECIPIENTS[1]), await send(RECIPIENTS[2])];
    await mine();
    // The third as a process leaves it between broadcasting and writing `submitted`: mined while its row says `signed`.
    await ctx.stack.pool.query(`UPDATE intents SET status = 'signed' WHERE id = $1`, [sent[2]!.id]);
    await settle();
    assert.deepEqual(await Promise.all(sent.map(async (s) => (await view(s.id)).status)), [
      'confirmed',
      'confirmed',
      'confirmed',
    ]);
  });

  test('a consumed nonce no live intent holds is filled with a zero-value transfer to the key itself', async () => {
    const lost = await send();
    await rpc(ctx.stack.anvil.rpcUrl, 'anvil_dropTransaction', [lost.txHash]);
    // As if a fault ended its intent after signing: the nonce is consumed and nothing will ever send it.
    await ctx.stack.pool.query(`UPDATE intents SET status = 'failed', error_code = 'internal_error' WHERE id = $1`, [
      lost.id,
    ]);
    const waiting = await send();
    await mine();
    assert.equal(await mined(), lost.nonce);

    const report = await services().tracker.reconcile();
    assert.equal(report!.filled, 1, JSON.stringify(report));
    const filler = (await pool()).get(lost.nonce)!;
    assert.equal(filler.to.toLowerCase(), ctx.stack.signerAddress.toLowerCase());
    assert.equal(filler.value, 0n);
    const recorded = await ctx.stack.pool.query(`SELECT kind, intent_id FROM intent_transactions WHERE tx_hash = $1`, [
      filler.hash,
    ]);
    assert.deepEqual(recorded.rows, [{ kind: 'fill', intent_id: null }]);
    const audit = await ctx.stack.pool.query(`SELECT actor FROM audit_log WHERE action = 'nonce.gap_filled'`);
    assert.deepEqual(audit.rows, [{ actor: 'system:reconciler' }]);

    await mine();
    await settle();
    assert.equal((await view(waiting.id)).status, 'confirmed');
    assert.equal(await mined(), waiting.nonce + 1);
  });

  test('a transaction pending too long is sped up with both fees raised by at least 10%, and the speed-up settles it', async () => {
    const slow = await send();
    const original = (await pool()).get(slow.nonce)!;
    await ctx.stack.pool.query(`UPDATE intents SET updated_at = now() - interval '2 hours' WHERE id = $1`, [slow.id]);

    const report = await services().tracker.reconcile();
    assert.equal(report!.spedUp, 1, JSON.stringify(report));
    const replacement = (await pool()).get(slow.nonce)!;
    assert.notEqual(replacement.hash, original.hash);
    assert.ok(replacement.maxFeePerGas * 100n >= original.maxFeePerGas * 110n);
    assert.ok(replacement.maxPriorityFeePerGas * 100n >= original.maxPriorityFeePerGas * 110n);
    assert.equal(replacement.to, original.to);
    assert.equal(replacement.value, original.value);

    await mine();
    await settle();
    const done = await view(slow.id);
    assert.equal(done.status, 'confirmed');
    assert.equal(done.txHash, replacement.hash);
    const audit = await ctx.stack.pool.query(
      `SELECT actor FROM audit_log WHERE subject = $1 AND action = 'intent.speedup_signed'`,
      [`intent:${slow.id}`],
    );
    assert.deepEqual(audit.rows, [{ actor: 'system:reconciler' }]);
  });

  test('past its deadline a pending transaction is cancelled, nothing is resubmitted, and the intent ends expired', async () => {
    const recipient = RECIPIENTS[8]!;
    const balance = await ctx.stack.chain.getBalance({ address: recipient });
    const late = await send(recipient, { deadline: Math.floor(Date.now() / 1000) + 3600 });
    await ctx.stack.pool.query(`UPDATE intents SET deadline = now() - interval '1 second' WHERE id = $1`, [late.id]);

    const operator = await ctx.stack.loginAs('operator');
    const refused = await callJson(ctx.stack.baseUrl, operator, 'POST', `/admin/intents/${late.id}/speed-up`);
    assert.equal(refused.status, 422);
    assert.equal(refused.body.code, 'deadline_passed');

    const report = await services().tracker.reconcile();
    assert.equal(report!.expired, 1, JSON.stringify(report));
    const cancel = (await pool()).get(late.nonce)!;
    assert.equal(cancel.to.toLowerCase(), ctx.stack.signerAddress.toLowerCase());
    assert.equal(cancel.value, 0n);

    await mine();
    await settle();
    const done = await view(late.id);
    assert.equal(done.status, 'expired');
    assert.equal(done.error.code, 'deadline_passed');
    assert.equal(await ctx.stack.chain.getBalance({ address: recipient }), balance, 'nothing reached the recipient');
  });

  test('nonce drift: the row follows a chain that counts more, and a pending intent whose nonce was taken ends dropped', async () => {
    const taken = await send();
    // The key signed elsewhere: the chain's nonce jumps past the pending transaction's.
    await rpc(ctx.stack.anvil.rpcUrl, 'anvil_setNonce', [
      ctx.stack.signerAddress,
      `0x${(taken.nonce + 3).toString(16)}`,
    ]);
    await mine();
    await ctx.stack.pool.query(`UPDATE intents SET updated_at = now() - interval '2 hours' WHERE id = $1`, [taken.id]);

    const report = await services().tracker.reconcile();
    assert.equal(report!.dropped, 1, JSON.stringify(report));
    const dropped = await view(taken.id);
    assert.equal(dropped.status, 'dropped');
    assert.equal(dropped.error.code, 'transaction_dropped');
    const row = await ctx.stack.pool.query('SELECT next_nonce::int AS n FROM nonces WHERE address = $1', [
      ctx.stack.signerAddress,
    ]);
    assert.equal(row.rows[0].n, taken.nonce + 3);
    const spend = await ctx.stack.pool.query('SELECT spend_state FROM intents WHERE id = $1', [taken.id]);
    assert.equal(spend.rows[0].spend_state, 'released');

    const next = await send();
    assert.equal(next.nonce, taken.nonce + 3);
    await mine();
    await settle();
    assert.equal((await view(next.id)).status, 'confirmed');
  });
});

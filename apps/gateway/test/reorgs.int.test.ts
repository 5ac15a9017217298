// Reorganisations (issue 18): a confirmed intent whose block a reorg replaces is noticed by the receipt tracker, goes
// back to `submitted` (audited `intent.reorged`), is broadcast again and confirms again; its spend is counted once.
// anvil's own `anvil_reorg` replaces the block. Real anvil, Postgres, Redis and signer (support/stack.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Hex } from 'viem';
import { nativeTransfer, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';

describe('reorganisations', { timeout: 300_000 }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => stack?.stop());

  const spendTotals = async () =>
    (
      await stack.pool.query<{ usd: string; n: string }>(
        'SELECT COALESCE(sum(usd_micros), 0)::text AS usd, COALESCE(sum(count), 0)::text AS n FROM spend_minutes',
      )
    ).rows[0]!;
  const auditActions = async (id: string) =>
    (
      await stack.pool.query<{ action: string }>('SELECT action FROM audit_log WHERE subject = $1 ORDER BY seq', [
        `intent:${id}`,
      ])
    ).rows.map((r) => r.action);

  test('a reorg that removes the block of a confirmed intent: it is re-submitted, confirms again, spend counted once', async () => {
    const token = await stack.token();
    const res = await postIntent(stack.baseUrl, token, nativeTransfer());
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const first = await waitForStatus(stack.baseUrl, token, res.body.id, ['confirmed', 'failed']);
    assert.equal(first.status, 'confirmed');
    const txHash = first.txHash as Hex;
    const minedIn = (await stack.chain.getTransactionReceipt({ hash: txHash })).blockHash;
    // Let the tracker read the block it settled from (it keeps the hashes it read).
    await stack.app.services.tracker.poll();
    const spentBefore = await spendTotals();

    // Replace the head block (the one holding the transfer) with an empty one.
    await stack.chain.request({ method: 'anvil_reorg' as never, params: [1, []] as never });
    await assert.rejects(stack.chain.getTransactionReceipt({ hash: txHash }), 'the reorg removed the transaction');

    // The tracker notices, puts the intent back, broadcasts it again; anvil mines it; it confirms again.
    let actions: string[] = [];
    // The chain goes on producing blocks, as a real one does: anvil may keep the dropped transaction in its pool,
    // where a rebroadcast is "already known" and automine, which mines on arrival, would leave it.
    for (let i = 0; i < 300; i += 1) {
      actions = await auditActions(res.body.id);
      if (actions.includes('intent.reorged') && actions.at(-1) === 'intent.confirmed') break;
      if (actions.includes('intent.reorged') && i % 5 === 4)
        await stack.chain.request({ method: 'evm_mine' as never, params: [] as never });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(
      actions.filter((a) => a === 'intent.reorged' || a === 'intent.confirmed' || a === 'intent.submitted'),
      ['intent.submitted', 'intent.confirmed', 'intent.reorged', 'intent.confirmed'],
    );
    const again = await waitForStatus(stack.baseUrl, token, res.body.id, ['confirmed']);
    assert.equal(again.txHash, txHash, 'the same signed transaction was rebroadcast');
    const receipt = await stack.chain.getTransactionReceipt({ hash: txHash });
    assert.equal(receipt.status, 'success');
    assert.notEqual(receipt.blockHash, minedIn);
    const { rows } = await stack.pool.query<{ status: string; from_status: string; to_status: string }>(
      `SELECT from_status, to_status FROM intent_events WHERE intent_id = $1 AND from_status = 'confirmed'`,
      [res.body.id],
    );
    assert.deepEqual(rows, [{ from_status: 'confirmed', to_status: 'submitted' }]);
    // People hear of it: one transaction_reorged alert about the intent.
    const alerts = await stack.pool.query<{ severity: string }>(
      `SELECT severity FROM alerts WHERE kind = 'transaction_reorged' AND subject = $1`,
      [`intent:${res.body.id}`],
    );
    assert.deepEqual(alerts.rows, [{ severity: 'high' }]);

    // Spend: counted once (the reservation was settled at the first confirmation and is not reopened or re-added).
    assert.deepEqual(await spendTotals(), spentBefore);
    const spend = await stack.pool.query<{ spend_state: string }>('SELECT spend_state FROM intents WHERE id = $1', [
      res.body.id,
    ]);
    assert.equal(spend.rows[0]!.spend_state, 'settled');
  });
});

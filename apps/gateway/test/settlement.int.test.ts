// Stage 13 (docs/money.md, Spend accounting): the tracker settles a block's intents together — one call for the
// block's receipts, one write for their endings, one for their spend — and every spend bucket they share moves by the
// sum of their true-ups, not by one of them.
// A mined intent is never left for the 30 s sweep: not when its receipt lags its block, not when the tracker jumps over
// the block while a sweep is under way (docs/submission.md, Following the chain).
// Automine is off: the test mines the block and runs the tracker (support/submission.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TransactionReceiptNotFoundError, type Hash } from 'viem';
import { RECIPIENTS } from './support/stack.ts';
import { postNativeTransfer } from './support/suite.ts';
import { manualStackWithToken, rpc } from './support/submission.ts';

describe('a block settles together', { timeout: 180_000 }, () => {
  const ctx = manualStackWithToken();

  const agentBuckets = async () =>
    (
      await ctx.stack.pool.query<{ usd: string; n: string }>(
        `SELECT COALESCE(sum(usd_micros), 0)::text AS usd, COALESCE(sum(count), 0)::text AS n FROM spend_minutes
          WHERE scope = 'agent:' || $1::text`,
        [ctx.stack.agent.agentId],
      )
    ).rows[0]!;

  test("six intents of one agent mined in one block: one receipts call, all confirmed in one write, and the agent's buckets move by the sum of their true-ups", async () => {
    const start = await agentBuckets();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await postNativeTransfer(
        ctx.stack.baseUrl,
        ctx.token,
        RECIPIENTS[i % RECIPIENTS.length]!,
        `0.00${i + 1}`,
      );
      assert.equal(res.status, 201, JSON.stringify(res.body));
      ids.push(res.body.id as string);
    }
    const reserved = await agentBuckets();
    assert.ok(BigInt(reserved.usd) > BigInt(start.usd), 'the six reservations are counted');

    // Count the tracker's receipt lookups on the gateway's own client for this chain.
    const client = ctx.stack.app.services.chains.client(31337) as unknown as Record<
      string,
      (...args: unknown[]) => Promise<unknown>
    >;
    const calls: Record<string, number> = { getTransactionReceipt: 0, getBlockReceipts: 0 };
    const real = { ...client };
    for (const name of Object.keys(calls))
      client[name] = (...args) => {
        calls[name]! += 1;
        return real[name]!(...args);
      };
    try {
      await rpc(ctx.stack.anvil.rpcUrl, 'evm_mine');
      await ctx.stack.app.services.tracker.poll();
    } finally {
      Object.assign(client, real);
    }
    assert.deepEqual(
      calls,
      { getTransactionReceipt: 0, getBlockReceipts: 1 },
      "the block's receipts were read in one call, not one per intent",
    );

    const { rows } = await ctx.stack.pool.query<{
      status: string;
      spend_state: string;
      spend: string;
      block_number: string;
      at: Date;
    }>(
      `SELECT status, spend_state, spend_usd_micros::text AS spend, block_number::text, updated_at AS at
         FROM intents WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    assert.deepEqual(
      rows.map((r) => [r.status, r.spend_state]),
      ids.map(() => ['confirmed', 'settled']),
    );
    assert.equal(new Set(rows.map((r) => r.block_number)).size, 1, 'all six were mined in one block');
    assert.equal(new Set(rows.map((r) => r.at.getTime())).size, 1, 'their endings were written by one statement');
    const settled = rows.reduce((sum, r) => sum + BigInt(r.spend), 0n);
    const after = await agentBuckets();
    assert.equal(BigInt(after.usd) - BigInt(start.usd), settled, 'the buckets hold exactly the settled spend');
    assert.ok(BigInt(after.usd) < BigInt(reserved.usd), 'the true-up gave back the unused worst-case fee');
    assert.equal(Number(after.n) - Number(start.n), 6);

    const audit = await ctx.stack.pool.query<{ action: string; subject: string }>(
      `SELECT action, subject FROM audit_log WHERE action = 'intent.confirmed' AND subject = ANY($1::text[]) ORDER BY seq`,
      [ids.map((id) => `intent:${id}`)],
    );
    assert.equal(audit.rows.length, 6, 'one intent.confirmed record each');
    const events = await ctx.stack.pool.query(
      `SELECT count(*)::int AS n FROM intent_events WHERE intent_id = ANY($1::uuid[]) AND to_status = 'confirmed'
          AND from_status = 'submitted'`,
      [ids],
    );
    assert.equal(events.rows[0].n, 6);

    // A second tracker pass (or another process's tracker) changes nothing: compare-and-set.
    await ctx.stack.app.services.tracker.poll();
    assert.deepEqual(await agentBuckets(), after);
  });

  test('a block whose receipt the RPC does not have yet (a lagging node behind a load balancer): the intent is looked up again on the next tick, not left for the sweep', async () => {
    const res = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, RECIPIENTS[0]!, '0.001');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const id = res.body.id as string;
    const txHash = res.body.txHash as Hash;

    const client = ctx.stack.app.services.chains.client(31337) as unknown as Record<
      string,
      (...args: unknown[]) => Promise<unknown>
    >;
    const real = client.getTransactionReceipt!;
    const lookups: string[] = [];
    client.getTransactionReceipt = async (...args) => {
      const { hash } = args[0] as { hash: Hash };
      lookups.push(hash);
      throw new TransactionReceiptNotFoundError({ hash });
    };
    try {
      await rpc(ctx.stack.anvil.rpcUrl, 'evm_mine');
      await ctx.stack.app.services.tracker.poll(); // reads the block, finds the intent, its receipt is "not found"
    } finally {
      client.getTransactionReceipt = real;
    }
    assert.ok(lookups.includes(txHash), 'the block was followed and its receipt asked for');
    const status = async () =>
      (await ctx.stack.pool.query<{ status: string }>('SELECT status FROM intents WHERE id = $1', [id])).rows[0]!
        .status;
    assert.equal(await status(), 'submitted');

    await ctx.stack.app.services.tracker.poll(); // no new block, no sweep due: only the recheck can settle it
    assert.equal(await status(), 'confirmed');
  });

  test('a tracker that jumps to the head while a sweep is under way still settles the intents below the sweep cursor that were mined in the skipped blocks', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, RECIPIENTS[i % RECIPIENTS.length]!, '0.0001');
      assert.equal(res.status, 201, JSON.stringify(res.body));
      ids.push(res.body.id as string);
    }
    const client = ctx.stack.app.services.chains.client(31337) as unknown as Record<
      string,
      (...args: unknown[]) => Promise<unknown>
    >;
    const real = client.getTransactionReceipt!;
    // 51 blocks (the first one mines the 40): the tracker jumps to the head and sweeps everything in flight. Receipt
    // lookups take 400 ms here, eight at a time, and find nothing (a lagging RPC), so the sweep stops at its 1 s budget
    // with its cursor partway through the 40 intents, having settled none.
    client.getTransactionReceipt = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      throw new TransactionReceiptNotFoundError({ hash: (args[0] as { hash: Hash }).hash });
    };
    try {
      await rpc(ctx.stack.anvil.rpcUrl, 'anvil_mine', ['0x33']);
      await ctx.stack.app.services.tracker.poll();
    } finally {
      client.getTransactionReceipt = real;
    }
    const submitted = async () =>
      (
        await ctx.stack.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM intents WHERE id = ANY($1::uuid[]) AND status = 'submitted'`,
          [ids],
        )
      ).rows[0]!.n;
    assert.equal(await submitted(), 40, 'none was settled yet');

    // The RPC catches up; 51 more blocks: the tracker jumps to the head again, with the sweep under way.
    await rpc(ctx.stack.anvil.rpcUrl, 'anvil_mine', ['0x33']);
    for (let tick = 0; tick < 5 && (await submitted()) > 0; tick++) await ctx.stack.app.services.tracker.poll();
    assert.equal(
      await submitted(),
      0,
      'every intent mined in the skipped blocks is settled, not left for the 30 s sweep',
    );
  });
});

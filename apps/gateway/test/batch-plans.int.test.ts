// The batch statements of the intent path find their intents by primary key however many rows the table holds and
// however stale its statistics are (CI runs Postgres with autovacuum off; a year of intents is millions of rows).
// Postgres estimates every json_to_recordset at 100 rows; joined with one, the intents table was scanned whole. The
// plans are read with auto_explain, which a superuser session loads and reports to the client at LOG level.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { markSettledBatch, markSubmittedBatch } from '../src/repositories/intents-repository.ts';
import { insertApprovedTransfer, startStack, type Stack } from './support/stack.ts';

/** Rows the intents table holds beyond the stack's own: enough that a scan of it costs more than an index probe. */
const FILLER_ROWS = 5_000;

describe('batch statement plans', { timeout: 120_000 }, () => {
  let stack: Stack;
  let client: pg.PoolClient;
  const plans: string[] = [];
  let id: string;

  before(async () => {
    stack = await startStack({ tracker: false });
    id = await insertApprovedTransfer(stack);
    // Copies of that intent under new ids, never analysed: the planner sizes the table from its pages alone.
    await stack.pool.query(
      `INSERT INTO intents
       SELECT (jsonb_populate_record(i, jsonb_build_object('id', gen_random_uuid(), 'status', 'rejected',
                                                          'idempotency_key', NULL, 'tx_hash', NULL))).*
         FROM intents i, generate_series(1, $2) WHERE i.id = $1`,
      [id, FILLER_ROWS],
    );
    client = await stack.pool.connect();
    await client.query(`LOAD 'auto_explain'`);
    await client.query(`SET auto_explain.log_min_duration = 0`);
    await client.query(`SET client_min_messages = log`);
    client.on('notice', (notice: { message?: string }) => plans.push(notice.message ?? ''));
  });
  after(async () => {
    client?.release(true);
    await stack?.stop();
  });

  /** Run `fn` in a transaction that is rolled back, and answer the plans auto_explain reported meanwhile. */
  const plansOf = async (fn: () => Promise<unknown>): Promise<string> => {
    plans.length = 0;
    await client.query('BEGIN');
    try {
      await fn();
    } finally {
      await client.query('ROLLBACK');
    }
    return plans.join('\n');
  };

  test('recording broadcasts locks its intents through the primary key', async () => {
    const plan = await plansOf(() =>
      markSubmittedBatch(client, [{ id, chainId: 31337, txHash: `0x${'ab'.repeat(32)}`, route: 'public' }]),
    );
    assert.match(plan, /intents_pkey/, 'auto_explain reported the statement');
    assert.doesNotMatch(plan, /Seq Scan on intents/);
  });

  test('settling a block locks its intents through the primary key', async () => {
    const plan = await plansOf(() =>
      markSettledBatch(client, [
        {
          id,
          status: 'confirmed',
          txHash: `0x${'cd'.repeat(32)}`,
          blockNumber: 1n,
          gasUsed: 21_000n,
          effectiveGasPrice: 1n,
          error: null,
          detail: {},
          audit: { actor: 'system:tracker', action: 'intent.confirmed', subject: `intent:${id}`, data: {} },
        },
      ]),
    );
    assert.match(plan, /intents_pkey/, 'auto_explain reported the statement');
    assert.doesNotMatch(plan, /Seq Scan on intents/);
  });
});

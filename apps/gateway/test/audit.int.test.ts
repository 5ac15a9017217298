import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { nativeTransfer, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';
import { TSX_LOADER } from '../src/dev/signer-process.ts';
import { withTransaction } from '../src/db/pool.ts';
import { appendAudit, verifyAuditChain } from '../src/repositories/audit-repository.ts';

const VERIFY_CLI = new URL('../src/cli/audit-verify.ts', import.meta.url).pathname;

function runVerify(databaseUrl: string): { status: number | null; stdout: string } {
  const result = spawnSync(process.execPath, ['--import', TSX_LOADER, VERIFY_CLI], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout };
}

describe('hash-chained audit log', () => {
  let stack: Stack;
  let intentId: string;
  before(async () => {
    stack = await startStack();
    const token = await stack.token();
    const res = await postIntent(stack.baseUrl, token, nativeTransfer('0.5'));
    intentId = res.body.id;
    await waitForStatus(stack.baseUrl, token, intentId, ['confirmed']);
    await postIntent(stack.baseUrl, token, nativeTransfer('1000'));
  });
  after(async () => stack?.stop());

  test('every state change of a confirmed intent is in the log, in order, before the next one', async () => {
    const { rows } = await stack.pool.query<{ action: string }>(
      'SELECT action FROM audit_log WHERE subject = $1 ORDER BY seq',
      [`intent:${intentId}`],
    );
    assert.deepEqual(
      rows.map((r) => r.action),
      ['intent.decided', 'intent.signed', 'intent.submitted', 'intent.confirmed'],
    );
  });

  test('the untouched chain verifies, from the library and from `pnpm audit:verify`', async () => {
    const result = await verifyAuditChain(stack.pool);
    assert.equal(result.ok, true);
    assert.ok(result.rows >= 5);
    const cli = runVerify(stack.db.url);
    assert.equal(cli.status, 0, cli.stdout);
    assert.match(cli.stdout, new RegExp(`audit log verified: ${result.rows} rows`));
  });

  test('records of concurrent transactions chain in queue order, each transaction together, with no gap; a rollback leaves none', async () => {
    const head = Number((await stack.pool.query('SELECT COALESCE(max(seq), 0)::int AS n FROM audit_log')).rows[0].n);
    const txs = 16;
    const per = 5;
    await Promise.all([
      ...Array.from({ length: txs }, (_, t) =>
        withTransaction(stack.pool, async (client) => {
          for (let i = 0; i < per; i++) {
            await appendAudit(client, {
              actor: 'system:test',
              action: 'test.chain',
              subject: i === 2 ? null : `tx:${t}`,
              data: { t, i },
            });
          }
        }),
      ),
      withTransaction(stack.pool, async (client) => {
        await appendAudit(client, { actor: 'system:test', action: 'test.rolled_back', subject: null, data: {} });
        throw new Error('roll back');
      }).catch(() => {}),
    ]);
    // Other work of the stack (its tracker) may chain records meanwhile: the checks below pick the test's out.
    const { rows } = await stack.pool.query<{ seq: number; action: string; record: string }>(
      `SELECT seq::int AS seq, action, record FROM audit_log WHERE seq > $1 ORDER BY seq`,
      [head],
    );
    assert.deepEqual(
      rows.map((r) => Number(r.seq)),
      rows.map((_, k) => head + 1 + k),
      'no gap in seq',
    );
    assert.ok(!rows.some((r) => r.action === 'test.rolled_back'), 'the rolled-back record is not chained');
    const chained = rows
      .filter((r) => r.action === 'test.chain')
      .map((r) => ({ seq: Number(r.seq), ...(JSON.parse(r.record) as { data: { t: number; i: number } }).data }));
    assert.equal(chained.length, txs * per, 'every record chained once');
    for (let t = 0; t < txs; t++) {
      const mine = chained.filter((c) => c.t === t);
      assert.deepEqual(
        mine.map((c) => [c.seq - mine[0]!.seq, c.i]),
        Array.from({ length: per }, (_, i) => [i, i]),
        "a transaction's records are together, in the order it queued them",
      );
    }
    assert.equal((await stack.pool.query('SELECT count(*)::int AS n FROM audit_pending')).rows[0].n, 0);
    assert.equal((await verifyAuditChain(stack.pool)).ok, true);
  });

  test('UPDATE, DELETE and TRUNCATE of audit rows are refused by the database', async () => {
    await assert.rejects(
      stack.pool.query("UPDATE audit_log SET actor = 'agent:someone-else' WHERE seq = 1"),
      /append-only/,
    );
    await assert.rejects(stack.pool.query('DELETE FROM audit_log WHERE seq = 1'), /append-only/);
    await assert.rejects(stack.pool.query('TRUNCATE audit_log'), /append-only/);
  });

  test('a row edited by hand (trigger disabled, as the table owner) is named by the verify command', async () => {
    const { rows } = await stack.pool.query<{ seq: string; record: string }>(
      "SELECT seq, record FROM audit_log WHERE action = 'intent.signed' ORDER BY seq LIMIT 1",
    );
    const target = Number(rows[0]!.seq);
    // The attacker rewrites the nonce in the signed record, keeping the JSON valid.
    const forged = rows[0]!.record.replace(/"nonce":\d+/, '"nonce":999');
    assert.notEqual(forged, rows[0]!.record);
    await stack.pool.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
    try {
      await stack.pool.query('UPDATE audit_log SET record = $1 WHERE seq = $2', [forged, target]);
    } finally {
      await stack.pool.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
    }
    const result = await verifyAuditChain(stack.pool);
    assert.equal(result.ok, false);
    assert.deepEqual(result.firstBroken, { seq: target, reason: 'hash does not match the record' });
    const cli = runVerify(stack.db.url);
    assert.equal(cli.status, 5, 'hash_mismatch');
    assert.match(cli.stdout, new RegExp(`BROKEN at seq ${target}: hash_mismatch: hash does not match the record`));
  });

  test("recomputing the forged row's hash does not hide it: the next row names the break", async () => {
    const { rows } = await stack.pool.query<{ seq: string; record: string; prev_hash: string }>(
      "SELECT seq, record, prev_hash FROM audit_log WHERE action = 'intent.signed' ORDER BY seq LIMIT 1",
    );
    const target = Number(rows[0]!.seq);
    await stack.pool.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
    try {
      await stack.pool.query(
        "UPDATE audit_log SET hash = encode(sha256(convert_to(prev_hash || record, 'UTF8')), 'hex') WHERE seq = $1",
        [target],
      );
    } finally {
      await stack.pool.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
    }
    const result = await verifyAuditChain(stack.pool);
    assert.deepEqual(result.firstBroken, { seq: target + 1, reason: 'prev_hash does not match the previous row' });
  });
});

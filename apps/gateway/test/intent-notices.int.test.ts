// Intent change notices (migration 0028, docs/waiting.md): each statement that inserts intents or changes their
// status or transaction hash NOTIFYs `clawd402_intents` with its changes as lists of `<id>:<status>:<agent id>`, at
// most 80 to a payload, delivered at COMMIT. A waiter that misses a change waits until its timeout, so every change
// must be announced exactly once, and nothing else.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@clawd402/testkit';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { createAgentWithKey } from '../src/repositories/agents-repository.ts';
import { INTENTS_CHANNEL, parseIntentNotices } from '../src/repositories/intents-repository.ts';

const RECIPIENT = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'; // anvil's well-known dev account 1 (public)

describe('intent change notices, one NOTIFY per statement', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let listener: pg.Client;
  let agentId: string;
  const payloads: string[] = [];

  /**
   * Run `work`, then answer what it returned and every payload delivered from the moment it started (a marker NOTIFY
   * sent after it shows that all of them have arrived).
   */
  const withNotices = async <T>(work: () => Promise<T>): Promise<{ result: T; got: string[] }> => {
    payloads.length = 0;
    const result = await work();
    const marker = `marker:${randomUUID()}`;
    await pool.query('SELECT pg_notify($1, $2)', [INTENTS_CHANNEL, marker]);
    for (let i = 0; i < 500 && !payloads.includes(marker); i += 1) await new Promise((r) => setTimeout(r, 10));
    assert.ok(payloads.includes(marker), 'the marker notification arrived');
    return { result, got: payloads.filter((p) => p !== marker) };
  };
  /** Run `sql` on the pool; its returned ids and the payloads its commit delivered. */
  const noticesOf = async (sql: string, values: unknown[] = []): Promise<{ ids: string[]; got: string[] }> => {
    const { result, got } = await withNotices(() => pool.query<{ id: string }>(sql, values));
    return { ids: result.rows.map((r) => r.id), got };
  };

  /** `count` new intents of the agent in one INSERT statement, in `status`; answers their ids in insertion order. */
  const insertSql = `INSERT INTO intents (id, agent_id, request_hash, status, type, chain_id, to_address, recipient, asset,
                                          amount, decimals)
                     SELECT gen_random_uuid(), $1, 'notices', $2, 'transfer', 31337, $3, $3, 'native', 1, 18
                       FROM generate_series(1, $4::int)
                     RETURNING id`;

  before(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url, 4);
    await migrate(pool);
    ({ agentId } = await createAgentWithKey(pool, { name: 'notices', signerAddress: RECIPIENT }));
    listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    listener.on('notification', (n) => {
      if (n.channel === INTENTS_CHANNEL && n.payload) payloads.push(n.payload);
    });
    await listener.query(`LISTEN ${INTENTS_CHANNEL}`);
  });
  after(async () => {
    await listener?.end();
    await pool?.end();
    await db?.drop();
  });

  test('one inserted intent sends exactly the single-change payload of earlier releases', async () => {
    const { ids, got } = await noticesOf(insertSql, [agentId, 'approved', RECIPIENT, 1]);
    assert.deepEqual(got, [`${ids[0]}:approved:${agentId}`]);
  });

  test('200 intents inserted by one statement: 3 payloads of at most 80, each intent announced once', async () => {
    const { ids: inserted, got } = await noticesOf(insertSql, [agentId, 'pending_approval', RECIPIENT, 200]);
    assert.equal(inserted.length, 200);
    assert.deepEqual(
      got.map((p) => p.split(',').length),
      [80, 80, 40],
    );
    for (const p of got)
      assert.ok(Buffer.byteLength(p) < 8_000, 'each payload, with the longest status, fits under the NOTIFY limit');
    const notices = got.flatMap(parseIntentNotices);
    assert.deepEqual(notices.map((n) => n.id).sort(), [...inserted].sort());
    assert.ok(notices.every((n) => n.status === 'pending_approval' && n.agentId === agentId));
  });

  test('an UPDATE announces the rows whose status or transaction hash changed, and only those', async () => {
    // Inserted through noticesOf, so that the INSERT's own notification has arrived before the UPDATE's are counted.
    const { ids } = await noticesOf(insertSql, [agentId, 'approved', RECIPIENT, 6]);
    assert.equal(ids.length, 6);
    // Two change status, one its transaction hash, three only their memo.
    const { got } = await noticesOf(
      `UPDATE intents SET
         status = CASE WHEN id = ANY($1::uuid[]) THEN 'cancelled' ELSE status END,
         tx_hash = CASE WHEN id = $2 THEN $3 ELSE tx_hash END,
         memo = 'touched'
       WHERE id = ANY($4::uuid[])`,
      [ids.slice(0, 2), ids[2], `0x${'ab'.repeat(32)}`, ids],
    );
    assert.equal(got.length, 1, 'one statement, one payload');
    assert.deepEqual(
      parseIntentNotices(got[0]).sort((a, b) => a.id.localeCompare(b.id)),
      [
        { id: ids[0]!, status: 'cancelled', agentId },
        { id: ids[1]!, status: 'cancelled', agentId },
        { id: ids[2]!, status: 'approved', agentId },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
    assert.deepEqual((await noticesOf(`UPDATE intents SET memo = 'again' WHERE id = ANY($1::uuid[])`, [ids])).got, []);
  });

  test('a rolled-back statement announces nothing; a committed one in the same way does', async () => {
    const inTransaction = (end: 'COMMIT' | 'ROLLBACK') =>
      withNotices(async () => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const { rows } = await client.query<{ id: string }>(insertSql, [agentId, 'approved', RECIPIENT, 3]);
          await client.query(end);
          return rows.map((r) => r.id);
        } finally {
          client.release();
        }
      });
    assert.deepEqual((await inTransaction('ROLLBACK')).got, []);
    const committed = await inTransaction('COMMIT');
    assert.deepEqual(
      committed.got
        .flatMap(parseIntentNotices)
        .map((n) => n.id)
        .sort(),
      [...committed.result].sort(),
    );
  });

  test('parseIntentNotices keeps well-formed entries and skips the others', () => {
    assert.deepEqual(parseIntentNotices('a:signed:x,b:confirmed:y'), [
      { id: 'a', status: 'signed', agentId: 'x' },
      { id: 'b', status: 'confirmed', agentId: 'y' },
    ]);
    assert.deepEqual(parseIntentNotices('a:signed:x,broken,c:d:e:f,,b:failed:y'), [
      { id: 'a', status: 'signed', agentId: 'x' },
      { id: 'b', status: 'failed', agentId: 'y' },
    ]);
    assert.deepEqual(parseIntentNotices(undefined), []);
    assert.deepEqual(parseIntentNotices(''), []);
  });
});

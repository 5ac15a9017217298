// Spend windows read from hour rows (migration 0027, docs/money.md): the sums a decision sees must be exactly the sums
// over every minute bucket in its windows, whatever wrote the buckets, in whatever time zone, under parallel writers.
// The oracle below is the plain definition: every minute bucket after the cut.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase, prng, type TestDatabase } from '@clawd402/testkit';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { purgeBatch } from '../src/repositories/retention-repository.ts';
import {
  adjustBucketsSql,
  readSpend,
  RESERVE_BUCKETS_SQL,
  type ScopeSpend,
} from '../src/repositories/spend-repository.ts';

const DAY_CUT = `now() - interval '24 hours 1 minute'`;
const HOUR_CUT = `now() - interval '1 hour 1 minute'`;

/** The windows as defined: every minute bucket of the scope after each cut (the query readSpend replaced). */
async function naiveSpend(client: pg.PoolClient, scopes: string[]): Promise<Map<string, ScopeSpend>> {
  const { rows } = await client.query<{
    scope: string;
    day_usd: string;
    day_count: string;
    hour_usd: string;
    hour_count: string;
    day_oldest: Date | null;
    hour_oldest: Date | null;
    after_reset: string;
    before_reset: string;
    offset_micros: string;
  }>(
    `SELECT s.scope,
            COALESCE(sum(b.usd_micros), 0) AS day_usd, COALESCE(sum(b.count), 0) AS day_count,
            COALESCE(sum(b.usd_micros) FILTER (WHERE b.minute > ${HOUR_CUT}), 0) AS hour_usd,
            COALESCE(sum(b.count) FILTER (WHERE b.minute > ${HOUR_CUT}), 0) AS hour_count,
            min(b.minute) FILTER (WHERE b.usd_micros > 0 OR b.count > 0) AS day_oldest,
            min(b.minute) FILTER (WHERE b.minute > ${HOUR_CUT} AND (b.usd_micros > 0 OR b.count > 0)) AS hour_oldest,
            COALESCE(sum(b.usd_micros) FILTER (WHERE s.breaker_reset_minute IS NULL OR b.minute > s.breaker_reset_minute), 0) AS after_reset,
            COALESCE(sum(b.usd_micros) FILTER (WHERE b.minute <= s.breaker_reset_minute), 0) AS before_reset,
            max(s.breaker_offset_micros) AS offset_micros
       FROM spend_scopes s LEFT JOIN spend_minutes b ON b.scope = s.scope AND b.minute > ${DAY_CUT}
      WHERE s.scope = ANY($1::text[])
      GROUP BY s.scope`,
    [scopes],
  );
  return new Map(
    rows.map((r) => {
      const beforeReset = BigInt(r.before_reset) - BigInt(r.offset_micros);
      return [
        r.scope,
        {
          dayUsd: BigInt(r.day_usd),
          dayCount: Number(r.day_count),
          hourUsd: BigInt(r.hour_usd),
          hourCount: Number(r.hour_count),
          dayFreesAt: r.day_oldest ? new Date(r.day_oldest.getTime() + 24 * 3_600_000 + 60_000) : null,
          hourFreesAt: r.hour_oldest ? new Date(r.hour_oldest.getTime() + 3_600_000 + 60_000) : null,
          breakerUsd: BigInt(r.after_reset) + (beforeReset > 0n ? beforeReset : 0n),
        },
      ];
    }),
  );
}

/**
 * Hour rows that differ from the sum of their minutes (none, ever), among the hours that start after `since` minutes
 * ago (retention deletes old minutes before their hour rows: those hours are never read).
 */
async function hoursOff(pool: pg.Pool, since = 100_000): Promise<unknown[]> {
  const { rows } = await pool.query(
    `SELECT * FROM (
       SELECT scope, date_trunc('hour', minute, 'UTC') AS hour, shard, sum(usd_micros) AS usd, sum(count) AS n
         FROM spend_minutes GROUP BY 1, 2, 3) m
     FULL JOIN spend_hours h USING (scope, hour, shard)
     WHERE (COALESCE(m.usd, 0) <> COALESCE(h.usd_micros, 0) OR COALESCE(m.n, 0) <> COALESCE(h.count, 0))
       AND hour > now() - $1 * interval '1 minute'`,
    [since],
  );
  return rows;
}

/** A reservation of `usd` for an agent (and its key) at a minute `ago` minutes back: the statement decisions run. */
const reserve = (db: pg.Pool, agent: string, key: string | null, ago: number, usd: number) =>
  db.query(
    `WITH r AS (
       SELECT $1::uuid AS agent_id, $2::uuid AS api_key_id,
              date_trunc('minute', now()) - $3 * interval '1 minute' AS spend_minute, $4::bigint AS spend_usd_micros
     ), ${RESERVE_BUCKETS_SQL}
     SELECT count(*) FROM reserved`,
    [agent, key, ago, usd],
  );

/** True-ups and releases of several intents in one statement, in no particular order: the statement the tracker runs. */
const adjust = (
  db: pg.Pool,
  changes: { agent: string; key: string | null; ago: number; delta: number; countDelta: number }[],
) =>
  db.query(
    `WITH moved AS (
       SELECT a AS agent_id, k AS api_key_id, date_trunc('minute', now()) - m * interval '1 minute' AS spend_minute,
              d AS delta, c AS count_delta
         FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::bigint[], $5::int[]) AS u(a, k, m, d, c)
     ), ${adjustBucketsSql('moved')}
     SELECT count(*) FROM adjusted`,
    [
      changes.map((c) => c.agent),
      changes.map((c) => c.key),
      changes.map((c) => c.ago),
      changes.map((c) => c.delta),
      changes.map((c) => c.countDelta),
    ],
  );

const uuid = (i: number): string => `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`;

describe('spend windows from hour rows', { timeout: 300_000 }, () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  before(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url, 12);
    await migrate(pool);
  });
  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  const compare = async (scopes: string[], label: string): Promise<void> => {
    const client = await pool.connect();
    try {
      // One transaction: both reads see the same now() and the same rows.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const fast = await readSpend(client, scopes);
      const naive = await naiveSpend(client, scopes);
      await client.query('COMMIT');
      for (const scope of scopes) assert.deepEqual(fast.get(scope), naive.get(scope), `${label}: ${scope}`);
    } finally {
      client.release();
    }
  };

  test('random reservations, true-ups, releases and purges over 26 hours: every window, count, oldest minute and breaker share equals the sum over every minute bucket', async () => {
    const agents = [uuid(1), uuid(2), uuid(3)];
    const keys = [uuid(11), uuid(12), null];
    const scopes = ['global', ...agents.map((a) => `agent:${a}`), ...keys.filter((k) => k).map((k) => `key:${k}`)];
    await pool.query(`INSERT INTO spend_scopes (scope) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [scopes]);
    for (let seed = 1; seed <= 45; seed++) {
      const next = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
      await pool.query('DELETE FROM spend_minutes');
      await pool.query('DELETE FROM spend_hours');
      // Some minutes right on the cuts' hours and the breaker's reset minute, where errors would hide; every third
      // history only there, so that whole hours between the windows' edges are empty.
      const edges = [0, 1, 59, 60, 61, 62, 119, 120, 1439, 1440, 1441, 1442, 1500];
      const sparse = seed % 3 === 0 ? [0, ...edges.filter(() => next() < 0.4)] : null;
      const minutesAgo = (): number => (sparse ? pick(sparse) : next() < 0.3 ? pick(edges) : Math.floor(next() * 1560));
      // The open reservations, as the intents table would hold them.
      const open: { agent: string; key: string | null; ago: number; usd: number }[] = [];
      for (let op = 0; op < 50; op++) {
        const kind = next();
        if (kind < 0.55 || open.length === 0) {
          const i = Math.floor(next() * agents.length);
          const intent = {
            agent: agents[i]!,
            key: keys[i]!,
            ago: minutesAgo(),
            usd: 1 + Math.floor(next() * 5_000_000),
          };
          await reserve(pool, intent.agent, intent.key, intent.ago, intent.usd);
          open.push(intent);
        } else if (kind < 0.95) {
          // A block's endings: some settle lower (or to 0: an x402 payment that cost nothing), some are released.
          const ended = open.splice(0, 1 + Math.floor(next() * Math.min(4, open.length)));
          await adjust(
            pool,
            ended.map((e) =>
              next() < 0.4
                ? { ...e, delta: -e.usd, countDelta: -1 }
                : { ...e, delta: -Math.floor(next() * (e.usd + 1)), countDelta: 0 },
            ),
          );
        } else await purgeBatch(pool, 'spend_minutes', new Date(Date.now() - 25 * 3_600_000), 1_000);
      }
      // A breaker reset inside the day for one scope (or just outside it), with the offset it records.
      const resetAgo = pick([null, 0, 30, 60, 61, 200, 1440, 1441, 1500]);
      await pool.query(`UPDATE spend_scopes SET breaker_reset_minute = NULL, breaker_offset_micros = 0`);
      if (resetAgo !== null)
        await pool.query(
          `UPDATE spend_scopes SET breaker_reset_minute = date_trunc('minute', now()) - $2 * interval '1 minute',
                  breaker_offset_micros = $3 WHERE scope = $1`,
          [pick(scopes), resetAgo, Math.floor(next() * 20_000_000)],
        );
      assert.deepEqual(await hoursOff(pool, 24 * 60), [], `seed ${seed}: hour rows equal their minutes`);
      await compare(scopes, `seed ${seed}`);
    }
  });

  test('a scope without buckets reads zero and no oldest minute, as before', async () => {
    await pool.query(`INSERT INTO spend_scopes (scope) VALUES ('agent:empty') ON CONFLICT DO NOTHING`);
    const spend = await readSpend(pool, ['agent:empty', 'agent:no-row']);
    const zero: ScopeSpend = {
      dayUsd: 0n,
      dayCount: 0,
      hourUsd: 0n,
      hourCount: 0,
      dayFreesAt: null,
      hourFreesAt: null,
      breakerUsd: 0n,
    };
    assert.deepEqual(spend.get('agent:empty'), zero);
    assert.deepEqual(spend.get('agent:no-row'), zero);
  });

  test('the read is planned once per connection, not on every call (its plan does not depend on how many scopes it reads)', async () => {
    // A connection of its own: the pool's have run the statement already.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      for (let i = 0; i < 12; i++) await readSpend(client, ['global', `agent:${uuid(1 + (i % 3))}`]);
      const { rows } = await client.query<{ generic: string; custom: string }>(
        `SELECT generic_plans::text AS generic, custom_plans::text AS custom FROM pg_prepared_statements
          WHERE statement LIKE '%day_edge AS%hour_edge AS%'`,
      );
      assert.equal(rows.length, 1);
      // Postgres tries five custom plans first; then it keeps the generic one when that costs no more.
      assert.deepEqual(rows[0], { generic: '7', custom: '5' });
    } finally {
      await client.end();
    }
  });

  test('hours are cut in UTC: a session in a half-hour time zone writes the same hour rows', async () => {
    const client = await pool.connect();
    try {
      await client.query(`SET TimeZone = 'Asia/Kolkata'`);
      const { rows } = await client.query<{ hour: Date; utc: Date }>(
        `WITH r AS (SELECT $1::uuid AS agent_id, NULL::uuid AS api_key_id, date_trunc('minute', now()) AS spend_minute,
                           7::bigint AS spend_usd_micros), ${RESERVE_BUCKETS_SQL}
         SELECT h.hour, date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS utc
           FROM spend_hours h, (SELECT count(*) FROM reserved) w WHERE h.scope = 'agent:' || $1::text`,
        [uuid(99)],
      );
      // Read after the statement: the same snapshot would not see its own write.
      const after = await client.query<{ hour: Date; utc: Date }>(
        `SELECT hour, date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS utc FROM spend_hours
          WHERE scope = 'agent:' || $1::text`,
        [uuid(99)],
      );
      assert.equal(rows.length, 0);
      assert.equal(after.rows.length, 1);
      assert.equal(after.rows[0]!.hour.toISOString(), after.rows[0]!.utc.toISOString());
      assert.equal(after.rows[0]!.hour.getUTCMinutes(), 0, 'an hour row starts on a UTC hour, not at :30');
    } finally {
      await client.query('RESET TimeZone');
      client.release();
    }
  });

  test('reservations and settlements of the same hours in parallel (the statements the gateway runs): no deadlock, and the hour rows still equal their minutes', async () => {
    // Few agents and minutes, so that statements share rows and would lock them in cycles if any order were loose.
    const agents = Array.from({ length: 4 }, (_, i) => uuid(100 + i));
    const next = prng(7);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 1500; i++) {
      const agent = agents[Math.floor(next() * agents.length)]!;
      const ago = Math.floor(next() * 6);
      if (i % 3 === 2) {
        // A block's true-ups: several agents and minutes in one statement, in no particular order.
        const changes = Array.from({ length: 6 }, () => {
          const a = agents[Math.floor(next() * agents.length)]!;
          return { agent: a, key: a, ago: Math.floor(next() * 6), delta: -Math.floor(next() * 1000), countDelta: 0 };
        });
        work.push(adjust(pool, changes));
      } else work.push(reserve(pool, agent, agent, ago, 10_000 + Math.floor(next() * 1000)));
    }
    const results = await Promise.allSettled(work);
    const failed = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
    assert.deepEqual(failed, []);
    assert.deepEqual(await hoursOff(pool), []);
    const scopes = ['global', ...agents.map((a) => `agent:${a}`), ...agents.map((a) => `key:${a}`)];
    await pool.query(`INSERT INTO spend_scopes (scope) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [scopes]);
    await compare(scopes, 'after parallel writers');
  });
});

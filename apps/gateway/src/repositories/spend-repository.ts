import type pg from 'pg';
import { classifiedWrite } from '../db/errors.ts';
import { prepared } from '../db/pool.ts';
import type { UsdMicros } from '../domain/usd.ts';
import { appendAudit, type Actor } from './audit-repository.ts';
import { raiseAlert } from './alerts-repository.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** Global spend is written in this many shards (by agent) so agents never queue on one bucket row. */
export const GLOBAL_SHARDS = 16;
/** A bucket counts toward a window while any part of its minute is inside it. */
export const DAY_CUT = `now() - interval '24 hours 1 minute'`;
export const HOUR_CUT = `now() - interval '1 hour 1 minute'`;
/** The SQL shard of the global bucket an agent writes. */
const SHARD_OF = (agentIdSql: string): string => `(abs(hashtext(${agentIdSql}::text)) % ${GLOBAL_SHARDS})::smallint`;

/** The hour row a minute's spend also counts in (migration 0027): hours are cut in UTC, whatever the session's zone. */
const HOUR_OF = (minuteSql: string): string => `date_trunc('hour', ${minuteSql}, 'UTC')`;

export type BreakerLevel = 'normal' | 'warning' | 'soft' | 'hard' | 'emergency';
export const BREAKER_LEVELS: readonly BreakerLevel[] = ['normal', 'warning', 'soft', 'hard', 'emergency'];

export interface ScopeRow {
  scope: string;
  limitDay: UsdMicros | null;
  limitHour: UsdMicros | null;
  breaker: { warning: UsdMicros | null; soft: UsdMicros | null; hard: UsdMicros | null; emergency: UsdMicros | null };
  level: BreakerLevel;
  latchedAt: Date | null;
  resetAt: Date | null;
}

export interface ScopeSpend {
  dayUsd: UsdMicros;
  dayCount: number;
  hourUsd: UsdMicros;
  hourCount: number;
  /** When the oldest spend in the window stops counting (null: nothing in the window). */
  dayFreesAt: Date | null;
  hourFreesAt: Date | null;
  /** Rolling-day spend that counts for the breaker (spend before the last owner reset does not). */
  breakerUsd: UsdMicros;
}

interface ScopeDbRow {
  scope: string;
  limit_day_micros: string | null;
  limit_hour_micros: string | null;
  breaker_warning_micros: string | null;
  breaker_soft_micros: string | null;
  breaker_hard_micros: string | null;
  breaker_emergency_micros: string | null;
  breaker_level: BreakerLevel;
  breaker_latched_at: Date | null;
  breaker_reset_at: Date | null;
}

const big = (v: string | null): bigint | null => (v === null ? null : BigInt(v));
const toScope = (r: ScopeDbRow): ScopeRow => ({
  scope: r.scope,
  limitDay: big(r.limit_day_micros),
  limitHour: big(r.limit_hour_micros),
  breaker: {
    warning: big(r.breaker_warning_micros),
    soft: big(r.breaker_soft_micros),
    hard: big(r.breaker_hard_micros),
    emergency: big(r.breaker_emergency_micros),
  },
  level: r.breaker_level,
  latchedAt: r.breaker_latched_at,
  resetAt: r.breaker_reset_at,
});

export const agentScope = (agentId: string): string => `agent:${agentId}`;
export const keyScope = (apiKeyId: string): string => `key:${apiKeyId}`;
export const GLOBAL_SCOPE = 'global';

/**
 * Lock the rows of `scopes` (created on first use) for the rest of the transaction, in a fixed order so that two
 * transactions never wait on each other in a cycle, and then the global row, but only when it carries a limit: then
 * every decision must see the exact global total. Without one, every agent would queue on it for nothing; it is
 * returned as read and its breaker reads committed spend. One statement: UNION ALL runs its branches in order, so
 * the global row is always locked after the others, as everywhere else.
 */
export async function lockScopes(client: Queryable, scopes: readonly string[]): Promise<Map<string, ScopeRow>> {
  const sorted = [...new Set(scopes)].filter((s) => s !== GLOBAL_SCOPE).sort();
  const { rows } = await client.query<ScopeDbRow & { how: 'locked' | 'read' | 'global_locked' }>(
    prepared(
      `WITH locked AS (
       INSERT INTO spend_scopes (scope) SELECT s FROM unnest($1::text[]) WITH ORDINALITY AS u(s, n) ORDER BY n
       ON CONFLICT (scope) DO UPDATE SET scope = excluded.scope
       RETURNING *
     ), global_locked AS (
       SELECT * FROM spend_scopes
        WHERE scope = 'global' AND (limit_day_micros IS NOT NULL OR limit_hour_micros IS NOT NULL)
        FOR UPDATE
     )
     SELECT *, 'locked' AS how FROM locked
     UNION ALL
     SELECT *, 'read' AS how FROM spend_scopes WHERE scope = 'global'
     UNION ALL
     SELECT *, 'global_locked' AS how FROM global_locked`,
      [sorted],
    ),
  );
  const result = new Map<string, ScopeRow>();
  let read: ScopeRow | undefined;
  let locked: ScopeRow | undefined;
  for (const row of rows) {
    const { how, ...rest } = row;
    if (how === 'locked') result.set(row.scope, toScope(rest));
    else if (how === 'global_locked') locked = toScope(rest);
    else read = toScope(rest);
  }
  // The locked read is the one to trust when there is one: it waited for whoever held the row, and saw its change.
  const global = locked ?? read;
  if (!global) throw new Error('the global spend scope row is missing (migration 0005)');
  result.set(GLOBAL_SCOPE, global);
  return result;
}

/** The rows of `scopes` that exist, as committed (no lock; a scope without a row has no limits yet). */
export async function readScopes(client: Queryable, scopes: readonly string[]): Promise<Map<string, ScopeRow>> {
  const { rows } = await client.query<ScopeDbRow>(
    prepared('SELECT * FROM spend_scopes WHERE scope = ANY($1::text[])', [[...scopes]]),
  );
  return new Map(rows.map((r) => [r.scope, toScope(r)]));
}

/** A spend row that holds spend (a released reservation leaves its rows at 0). */
const NONZERO = (alias: string): string => `(${alias}.usd_micros > 0 OR ${alias}.count > 0)`;

/** The first minute with spend of the scope `scope` in the hour starting at `hour` (SQL expressions), or null. */
const firstSpentMinuteSql = (scope: string, hour: string): string =>
  `(SELECT min(fm.minute) FROM spend_minutes fm
     WHERE fm.scope = ${scope} AND fm.minute >= ${hour} AND fm.minute < ${hour} + interval '1 hour' AND ${NONZERO('fm')})`;

/** Each scope's minutes after `cut` inside the hour starting at `first` (a window's first hour), as one CTE body. */
const edgeSql = (cut: string, first: string): string => `
         SELECT m.scope, sum(m.usd_micros) AS usd, sum(m.count) AS n, min(m.minute) FILTER (WHERE ${NONZERO('m')}) AS oldest
           FROM c JOIN spend_minutes m ON m.scope = ANY(c.scopes) AND m.minute > ${cut}
                                      AND m.minute < ${first} + interval '1 hour'
          GROUP BY m.scope`;

/**
 * The spend of the scope named by `scope` (an SQL expression) in the minutes after the instant `cut`, as a subquery of
 * one row: `usd`, `n` (count) and `oldest`, the first minute after the cut with spend in it (null: none). Reads the
 * hour rows (spend_hours, each the sum of its minutes: migration 0027) of the hours after the cut's hour, and the
 * minute rows of the cut's hour after the cut — at most 24 + 60 rows per shard for a day, however busy the day was.
 * The oldest minute is found in the first hour with spend, which is the cut's own when it has any (the usual case).
 */
export const spendAfterSql = (cut: string, scope: string): string => `(
       SELECT e.usd + hr.usd AS usd, e.n + hr.n AS n,
              COALESCE(e.oldest, ${firstSpentMinuteSql(scope, 'hr.first')}) AS oldest
         FROM (SELECT COALESCE(sum(sm.usd_micros), 0) AS usd, COALESCE(sum(sm.count), 0) AS n,
                      min(sm.minute) FILTER (WHERE ${NONZERO('sm')}) AS oldest
                 FROM spend_minutes sm
                WHERE sm.scope = ${scope} AND sm.minute > ${cut}
                  AND sm.minute < ${HOUR_OF(cut)} + interval '1 hour') e,
              (SELECT COALESCE(sum(sh.usd_micros), 0) AS usd, COALESCE(sum(sh.count), 0) AS n,
                      min(sh.hour) FILTER (WHERE ${NONZERO('sh')}) AS first
                 FROM spend_hours sh WHERE sh.scope = ${scope} AND sh.hour > ${HOUR_OF(cut)}) hr)`;

/**
 * Rolling 24 h and 1 h spend of each scope, as committed (read inside the locking transaction: exact for locked
 * scopes). The same sums as over every minute bucket in the windows, read from a bounded number of rows, in three
 * scans for all the scopes together: the hour rows after the day's first hour, and the minutes of each window's first
 * hour inside the window ({@link spendAfterSql} reads one window of one scope the same way). The oldest minute with
 * spend is looked up in the first hour with spend only when the window's first hour has none. The breaker's share is
 * the spend after its reset minute, when that is inside the day.
 */
export async function readSpend(client: Queryable, scopes: readonly string[]): Promise<Map<string, ScopeSpend>> {
  // The scopes come through a sub-select so that Postgres plans the statement once per connection. As a plain
  // parameter, each call's plan was costed for its own number of scopes, which for a few scopes came out cheaper than
  // the generic plan, so Postgres planned it again on every call: 0.49 ms a read instead of 0.15 ms.
  const { rows } = await client.query<{
    scope: string;
    day_usd: string;
    day_count: string;
    hour_usd: string;
    hour_count: string;
    day_oldest: Date | null;
    hour_oldest: Date | null;
    after_reset: string;
    offset_micros: string;
  }>(
    prepared(
      `WITH c AS (
         SELECT ${DAY_CUT} AS day_cut, ${HOUR_CUT} AS hour_cut,
                ${HOUR_OF(DAY_CUT)} AS day_first, ${HOUR_OF(HOUR_CUT)} AS hour_first,
                (SELECT $1::text[])::text[] AS scopes
       ), hours AS (
         SELECT h.scope, sum(h.usd_micros) AS day_usd, sum(h.count) AS day_n,
                sum(h.usd_micros) FILTER (WHERE h.hour > c.hour_first) AS hour_usd,
                sum(h.count) FILTER (WHERE h.hour > c.hour_first) AS hour_n,
                min(h.hour) FILTER (WHERE ${NONZERO('h')}) AS day_first_spent,
                min(h.hour) FILTER (WHERE h.hour > c.hour_first AND ${NONZERO('h')}) AS hour_first_spent
           FROM c JOIN spend_hours h ON h.scope = ANY(c.scopes) AND h.hour > c.day_first
          GROUP BY h.scope
       ), day_edge AS (${edgeSql('c.day_cut', 'c.day_first')}
       ), hour_edge AS (${edgeSql('c.hour_cut', 'c.hour_first')}
       )
       SELECT s.scope,
              COALESCE(d.usd, 0) + COALESCE(h.day_usd, 0) AS day_usd,
              COALESCE(d.n, 0) + COALESCE(h.day_n, 0) AS day_count,
              COALESCE(e.usd, 0) + COALESCE(h.hour_usd, 0) AS hour_usd,
              COALESCE(e.n, 0) + COALESCE(h.hour_n, 0) AS hour_count,
              COALESCE(d.oldest, f.minute) AS day_oldest,
              COALESCE(e.oldest, CASE WHEN d.oldest IS NULL AND h.hour_first_spent = h.day_first_spent THEN f.minute
                                      ELSE ${firstSpentMinuteSql('s.scope', 'h.hour_first_spent')} END) AS hour_oldest,
              CASE WHEN s.breaker_reset_minute IS NULL OR s.breaker_reset_minute <= c.day_cut
                   THEN COALESCE(d.usd, 0) + COALESCE(h.day_usd, 0)
                   ELSE (SELECT r.usd FROM ${spendAfterSql('s.breaker_reset_minute', 's.scope')} r) END AS after_reset,
              s.breaker_offset_micros AS offset_micros
         FROM c JOIN spend_scopes s ON s.scope = ANY(c.scopes)
         LEFT JOIN hours h ON h.scope = s.scope
         LEFT JOIN day_edge d ON d.scope = s.scope
         LEFT JOIN hour_edge e ON e.scope = s.scope
         -- The first minute with spend of the day's first hour with spend, when the day's first hour has none.
         LEFT JOIN LATERAL (SELECT CASE WHEN d.oldest IS NULL
                                        THEN ${firstSpentMinuteSql('s.scope', 'h.day_first_spent')} END AS minute) f ON true`,
      [scopes],
    ),
  );
  const result = new Map<string, ScopeSpend>();
  for (const scope of scopes) {
    result.set(scope, {
      dayUsd: 0n,
      dayCount: 0,
      hourUsd: 0n,
      hourCount: 0,
      dayFreesAt: null,
      hourFreesAt: null,
      breakerUsd: 0n,
    });
  }
  for (const r of rows) {
    const beforeReset = BigInt(r.day_usd) - BigInt(r.after_reset) - BigInt(r.offset_micros);
    result.set(r.scope, {
      dayUsd: BigInt(r.day_usd),
      dayCount: Number(r.day_count),
      hourUsd: BigInt(r.hour_usd),
      hourCount: Number(r.hour_count),
      dayFreesAt: r.day_oldest ? new Date(r.day_oldest.getTime() + 24 * 3_600_000 + 60_000) : null,
      hourFreesAt: r.hour_oldest ? new Date(r.hour_oldest.getTime() + 3_600_000 + 60_000) : null,
      breakerUsd: BigInt(r.after_reset) + (beforeReset > 0n ? beforeReset : 0n),
    });
  }
  return result;
}

/**
 * The hour side of a spend change, as a CTE named `name` over `source`, a CTE of minute-row changes (`scope`, `minute`,
 * `shard`, `usd`, `n`): each hour row moves once, by the sum over its minutes, in the order (scope, hour, shard).
 * `gate`, when `source` is not itself the statement's write of the minute rows, names that write: the hour rows are
 * written after all of it (a subquery that reads it runs it to the end first), so every writer locks minutes, then
 * hours, each in a fixed order, and two writers never wait on each other in a cycle.
 */
const hoursSql = (name: string, source: string, gate?: string): string => `${name} AS (
         INSERT INTO spend_hours (scope, hour, shard, usd_micros, count)
         SELECT scope, ${HOUR_OF('minute')}, shard, sum(usd), sum(n)
           FROM ${source}${gate ? `, (SELECT count(*) FROM ${gate}) gate` : ''}
          GROUP BY 1, 2, 3 HAVING sum(usd) <> 0 OR sum(n) <> 0 ORDER BY 1, 2, 3
         ON CONFLICT (scope, hour, shard) DO UPDATE
           SET usd_micros = spend_hours.usd_micros + excluded.usd_micros, count = spend_hours.count + excluded.count
         RETURNING 1
       )`;

/**
 * The bucket side of new reservations, as CTEs after an `r` CTE that returns one row per reserving intent with
 * `agent_id`, `api_key_id`, `spend_minute` and `spend_usd_micros`: its agent's, key's and global shard's buckets of that
 * minute, and their hours, grow by the amount and count one more, each row written once, in a fixed order (scope,
 * minute, shard) so two transactions never wait on each other in a cycle. Ends with a `reserved` CTE.
 */
export const RESERVE_BUCKETS_SQL = `reserve_parts AS (
       SELECT 'agent:' || agent_id AS scope, spend_minute AS minute, 0::smallint AS shard, spend_usd_micros AS usd FROM r
       UNION ALL
       SELECT 'key:' || api_key_id, spend_minute, 0::smallint, spend_usd_micros FROM r WHERE api_key_id IS NOT NULL
       UNION ALL
       SELECT 'global', spend_minute, ${SHARD_OF('agent_id')}, spend_usd_micros FROM r
     ), reserve_minutes AS (
       SELECT scope, minute, shard, sum(usd) AS usd, count(*) AS n FROM reserve_parts GROUP BY scope, minute, shard
     ), reserved_minutes AS (
       INSERT INTO spend_minutes (scope, minute, shard, usd_micros, count)
       SELECT scope, minute, shard, usd, n FROM reserve_minutes ORDER BY scope, minute, shard
       ON CONFLICT (scope, minute, shard) DO UPDATE
         SET usd_micros = spend_minutes.usd_micros + excluded.usd_micros, count = spend_minutes.count + excluded.count
       RETURNING 1
     ), ${hoursSql('reserved', 'reserve_minutes', 'reserved_minutes')}`;

/**
 * Add the reservations of intents decided earlier in this transaction to their buckets, in one statement (an intent
 * approved by a human: 08-reserve.ts). Reads the amounts from the intents themselves, so only intents actually
 * recorded count. A batch of fresh decisions reserves in the statement that records it (insertIntentsBatch).
 */
export async function reserveSpend(client: Queryable, intentIds: readonly string[]): Promise<void> {
  if (intentIds.length === 0) return;
  await client.query(
    prepared(
      `WITH r AS (
       SELECT agent_id, api_key_id, spend_minute, spend_usd_micros FROM intents
        WHERE id = ANY($1::uuid[]) AND spend_state = 'reserved'
     ), ${RESERVE_BUCKETS_SQL}
     SELECT count(*) FROM reserved`,
      [intentIds],
    ),
  );
}

/**
 * The bucket side of a spend change, as CTEs after a `source` CTE that returns one row per intent changed with
 * `agent_id`, `api_key_id`, `spend_minute`, `delta` (micro-USD) and `count_delta`: the agent's, the key's and the
 * agent's global shard's buckets of the intent's minute, and their hours, move by the same amounts — each row once, by
 * the sum over the intents that share it; rows that would not move are not touched. Written as reservations are (an
 * upsert in the order (scope, minute, shard), then the hours), so minute rows are locked in that order too; a minute
 * the retention job already purged (more than a day old, outside every window) comes back holding the change, and goes
 * at the next purge. Ends with an `adjusted` CTE.
 */
export const adjustBucketsSql = (source: string): string => `parts AS (
         SELECT scope, spend_minute AS minute, shard, sum(delta) AS usd, sum(count_delta) AS n FROM (
           SELECT 'agent:' || agent_id AS scope, 0::smallint AS shard, spend_minute, delta, count_delta FROM ${source}
           UNION ALL SELECT 'key:' || api_key_id, 0::smallint, spend_minute, delta, count_delta FROM ${source} WHERE api_key_id IS NOT NULL
           UNION ALL SELECT 'global', ${SHARD_OF('agent_id')}, spend_minute, delta, count_delta FROM ${source}
         ) each GROUP BY scope, spend_minute, shard HAVING sum(delta) <> 0 OR sum(count_delta) <> 0
       ), adjusted_minutes AS (
         INSERT INTO spend_minutes (scope, minute, shard, usd_micros, count)
         SELECT scope, minute, shard, usd, n FROM parts ORDER BY scope, minute, shard
         ON CONFLICT (scope, minute, shard) DO UPDATE
           SET usd_micros = spend_minutes.usd_micros + excluded.usd_micros, count = spend_minutes.count + excluded.count
         RETURNING 1
       ), ${hoursSql('adjusted', 'parts', 'adjusted_minutes')}`;

/**
 * What an ended intent's spend settles at, in micro-USD, as a SQL expression over the columns `c` names: exact
 * (numeric). Its value when it was confirmed, plus the fee its receipt says it paid (gas used × effective price) at the
 * native price it was valued with, rounded up: div(wei × micro-USD per native unit − 1, 10^18) + 1. Null when there is
 * nothing to true up from (no receipt figures, or no native price): then the spend is released.
 */
export const settledUsdSql = (c: {
  status: string;
  txHash: string;
  gasUsed: string;
  effectiveGasPrice: string;
  valuation: string;
  valueUsd: string;
}): string => `CASE WHEN ${c.gasUsed} IS NOT NULL AND ${c.effectiveGasPrice} IS NOT NULL
                          AND ${c.valuation}->'native'->>'usdPerUnitMicros' IS NOT NULL
                     THEN (CASE WHEN ${c.status} = 'confirmed' THEN COALESCE(${c.valueUsd}, 0) ELSE 0 END)
                          + (CASE WHEN ${c.gasUsed} * ${c.effectiveGasPrice} = 0 THEN 0
                                  ELSE div(${c.gasUsed} * ${c.effectiveGasPrice}
                                           * (${c.valuation}->'native'->>'usdPerUnitMicros')::numeric - 1,
                                           1000000000000000000) + 1 END)
                     -- Settled by someone else's transaction (an x402 payment the facilitator submitted): its value,
                     -- and no fee of ours. Never released: the money moved.
                     WHEN ${c.status} = 'confirmed' AND ${c.txHash} IS NULL THEN COALESCE(${c.valueUsd}, 0)
                END`;

/**
 * Move an intent's recorded spend to `newUsd` (micro-USD) and state `to`, adjusting its buckets by the difference —
 * one statement, guarded by the states it may move from, so it applies once even when a tracker in another process
 * races it. `release` (died before broadcast) sets the spend to 0 and removes its count.
 */
export async function adjustSpend(
  db: Queryable,
  intentId: string,
  change: { to: 'released' } | { to: 'settled'; usd: UsdMicros } | { to: 'committed' },
): Promise<boolean> {
  const from =
    change.to === 'settled'
      ? ['reserved', 'committed']
      : change.to === 'committed'
        ? ['reserved']
        : ['reserved', 'committed'];
  const newUsd = change.to === 'released' ? '0' : change.to === 'settled' ? change.usd.toString() : null;
  const countDelta = change.to === 'released' ? -1 : 0;
  return classifiedWrite(async () => {
    const { rows } = await db.query<{ id: string }>(
      prepared(
        `WITH old AS (
         SELECT id, agent_id, api_key_id, spend_minute, spend_usd_micros FROM intents
          WHERE id = $1 AND spend_state = ANY($2::text[]) FOR UPDATE
       ), moved AS (
         UPDATE intents i SET spend_state = $3, spend_usd_micros = COALESCE($4::bigint, i.spend_usd_micros)
           FROM old WHERE i.id = old.id
         RETURNING i.id, old.agent_id, old.api_key_id, old.spend_minute, i.spend_usd_micros - old.spend_usd_micros AS delta,
                   $5::int AS count_delta
       ), ${adjustBucketsSql('moved')}
       SELECT id FROM moved, (SELECT count(*) FROM adjusted) a`,
        [intentId, from, change.to, newUsd, countDelta],
      ),
    );
    return rows.length === 1;
  });
}

/** Intents whose spend is still open (reserved or committed) though they ended: the tracker's reconciliation sweep. */
export async function findUnsettledSpend(
  db: Queryable,
  limit: number,
): Promise<{ id: string; status: string; spendState: string }[]> {
  const { rows } = await db.query<{ id: string; status: string; spend_state: string }>(
    `SELECT id, status, spend_state FROM intents
      WHERE spend_state IN ('reserved', 'committed')
        AND status IN ('rejected', 'failed', 'cancelled', 'expired', 'dropped', 'confirmed')
      ORDER BY updated_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ id: r.id, status: r.status, spendState: r.spend_state }));
}

/**
 * Record a breaker level change for a scope (and latch it at emergency), with its audit record and a
 * `breaker_level_changed` alert (critical when rising past warning, high at warning, medium when falling).
 */
export async function setBreakerLevel(
  client: Queryable,
  scope: string,
  from: BreakerLevel,
  to: BreakerLevel,
  detail: { spendUsd: string; thresholdUsd: string | null },
): Promise<void> {
  await client.query(
    `UPDATE spend_scopes SET breaker_level = $2,
            breaker_latched_at = CASE WHEN $2 = 'emergency' THEN COALESCE(breaker_latched_at, now()) ELSE breaker_latched_at END,
            updated_at = now()
      WHERE scope = $1`,
    [scope, to],
  );
  const rising = BREAKER_LEVELS.indexOf(to) > BREAKER_LEVELS.indexOf(from);
  await raiseAlert(client, {
    kind: 'breaker_level_changed',
    // Per level, so a fall back is not folded into the rise before it.
    subject: `scope:${scope}:${to}`,
    severity: !rising ? 'medium' : to === 'warning' ? 'high' : 'critical',
    summary: `Circuit breaker for ${scope} ${rising ? 'rose' : 'fell'} from ${from} to ${to} (${detail.spendUsd} USD in 24 h)`,
    detail: { scope, from, to, ...detail },
  });
  await appendAudit(client, {
    actor: 'system:gateway',
    action: 'breaker.level_changed',
    subject: `scope:${scope}`,
    data: { from, to, ...detail },
  });
}

export interface ScopeLimitsUpdate {
  limitDay?: UsdMicros | null;
  limitHour?: UsdMicros | null;
  breaker?: {
    warning?: UsdMicros | null;
    soft?: UsdMicros | null;
    hard?: UsdMicros | null;
    emergency?: UsdMicros | null;
  };
}

/** Set a scope's limits and breaker thresholds (null: back to the default), audited, in the caller's transaction. */
export async function updateScopeLimits(
  client: Queryable,
  scope: string,
  update: ScopeLimitsUpdate,
  actor: Actor,
): Promise<ScopeRow> {
  const columns: [string, UsdMicros | null | undefined][] = [
    ['limit_day_micros', update.limitDay],
    ['limit_hour_micros', update.limitHour],
    ['breaker_warning_micros', update.breaker?.warning],
    ['breaker_soft_micros', update.breaker?.soft],
    ['breaker_hard_micros', update.breaker?.hard],
    ['breaker_emergency_micros', update.breaker?.emergency],
  ];
  const sets: string[] = ['updated_at = now()'];
  const params: unknown[] = [scope];
  const changed: Record<string, string | null> = {};
  for (const [column, value] of columns) {
    if (value === undefined) continue;
    params.push(value === null ? null : value.toString());
    sets.push(`${column} = $${params.length}::bigint`);
    changed[column] = value === null ? null : value.toString();
  }
  return classifiedWrite(async () => {
    await client.query(`INSERT INTO spend_scopes (scope) VALUES ($1) ON CONFLICT (scope) DO NOTHING`, [scope]);
    const { rows } = await client.query<ScopeDbRow>(
      `UPDATE spend_scopes SET ${sets.join(', ')} WHERE scope = $1 RETURNING *`,
      params,
    );
    await appendAudit(client, { actor, action: 'costs.limits_updated', subject: `scope:${scope}`, data: changed });
    return toScope(rows[0]!);
  });
}

/**
 * An owner's breaker reset: clears the emergency latch and makes spend so far (in the window) stop counting for the
 * breaker — it still counts for spend limits. Audited.
 */
export async function resetBreaker(
  client: Queryable,
  scope: string,
  actor: Actor,
  reason: string,
): Promise<ScopeRow | null> {
  return classifiedWrite(async () => {
    const { rows } = await client.query<ScopeDbRow>(
      `UPDATE spend_scopes s SET breaker_latched_at = NULL, breaker_level = 'normal', breaker_reset_at = now(),
              breaker_reset_minute = date_trunc('minute', now()),
              breaker_offset_micros = (SELECT d.usd FROM ${spendAfterSql(DAY_CUT, 's.scope')} d),
              updated_at = now()
        WHERE scope = $1 RETURNING *`,
      [scope],
    );
    if (!rows[0]) return null;
    await appendAudit(client, { actor, action: 'breaker.reset', subject: `scope:${scope}`, data: { reason } });
    return toScope(rows[0]);
  });
}

export interface ScopeReport {
  scope: ScopeRow;
  spend: ScopeSpend;
}

/** Every scope with a row (limits, breaker state) and its current spend: the /admin/costs view. */
export async function listScopes(db: Queryable): Promise<ScopeReport[]> {
  const { rows } = await db.query<ScopeDbRow>('SELECT * FROM spend_scopes ORDER BY scope');
  const spend = await readSpend(
    db,
    rows.map((r) => r.scope),
  );
  return rows.map((r) => ({ scope: toScope(r), spend: spend.get(r.scope)! }));
}

/** Rolling 24 h spend grouped by asset and chain (from the intents themselves). */
export async function spendByAsset(
  db: Queryable,
): Promise<{ chainId: number; asset: string; usd: UsdMicros; count: number }[]> {
  const { rows } = await db.query<{ chain_id: string; asset: string; usd: string; n: string }>(
    `SELECT chain_id, asset, COALESCE(sum(spend_usd_micros), 0) AS usd, count(*) AS n FROM intents
      WHERE spend_minute > ${DAY_CUT} AND spend_state <> 'released'
      GROUP BY chain_id, asset ORDER BY chain_id, asset`,
  );
  return rows.map((r) => ({ chainId: Number(r.chain_id), asset: r.asset, usd: BigInt(r.usd), count: Number(r.n) }));
}

/**
 * Close an ended intent's open spend: one that was mined is trued up to what it really cost (its value if it
 * succeeded, plus gas used × effective gas price at the native price it was decided with, rounded up); a confirmed
 * payment mined by another's transaction (x402) is settled at its value; one that never reached the chain is
 * released. Idempotent: does nothing for an intent whose spend is already closed or that
 * has not ended. Returns what happened.
 */
export async function closeSpend(db: Queryable, intentId: string): Promise<'settled' | 'released' | null> {
  return (await closeSpendBatch(db, [intentId])).get(intentId) ?? null;
}

/**
 * {@link closeSpend} for several intents in one statement (the tracker closes a block's intents together): the
 * intents' rows are locked in id order, and each bucket moves once by the sum of its intents' differences. Returns
 * what happened to each intent whose spend it closed.
 */
export async function closeSpendBatch(
  db: Queryable,
  intentIds: readonly string[],
): Promise<Map<string, 'settled' | 'released'>> {
  if (intentIds.length === 0) return new Map();
  // One statement: read the intents' receipt figures and valuations under their row locks, work out the true costs
  // (settledUsdSql), and move the spend and its buckets.
  return classifiedWrite(async () => {
    const { rows } = await db.query<{ id: string; to_state: 'settled' | 'released' }>(
      prepared(
        `WITH cur AS (
         SELECT id, agent_id, api_key_id, spend_minute, spend_usd_micros,
                ${settledUsdSql({ status: 'status', txHash: 'tx_hash', gasUsed: 'gas_used', effectiveGasPrice: 'effective_gas_price', valuation: 'valuation', valueUsd: 'value_usd_micros' })} AS settled_usd
           FROM intents
          WHERE id = ANY($1::uuid[]) AND spend_state IN ('reserved', 'committed')
            AND status IN ('confirmed', 'failed', 'rejected', 'cancelled', 'expired', 'dropped')
          ORDER BY id
          FOR UPDATE
       ), moved AS (
         UPDATE intents i
            SET spend_state = CASE WHEN c.settled_usd IS NULL THEN 'released' ELSE 'settled' END,
                spend_usd_micros = COALESCE(c.settled_usd, 0)::bigint
           FROM cur c WHERE i.id = c.id
         RETURNING i.id, c.agent_id, c.api_key_id, c.spend_minute, i.spend_usd_micros - c.spend_usd_micros AS delta,
                   (CASE WHEN c.settled_usd IS NULL THEN -1 ELSE 0 END)::int AS count_delta, i.spend_state AS to_state
       ), ${adjustBucketsSql('moved')}
       SELECT id, to_state FROM moved, (SELECT count(*) FROM adjusted) a`,
        [intentIds],
      ),
    );
    return new Map(rows.map((r) => [r.id, r.to_state]));
  });
}

/** The database's current minute: the bucket a reservation made now counts in. */
export async function currentSpendMinute(db: Pick<pg.PoolClient, 'query'>): Promise<Date> {
  const { rows } = await db.query<{ m: Date }>(`SELECT date_trunc('minute', now()) AS m`);
  return rows[0]!.m;
}

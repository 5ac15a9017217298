import type pg from 'pg';

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * What the retention job purges (docs/jobs.md), one entry per table: the rows past retention, deleted by key in
 * batches of `limit` — each batch one short statement of its own, so no lock is held across batches and a purge of a
 * million rows never blocks the writers of the table. The audit chain (audit_log, audit_checkpoints, audit_pending) is
 * append-only and is never purged: nothing here names it, and its triggers refuse DELETE anyway.
 */
export type RetentionTarget =
  | 'refresh_tokens'
  | 'sessions'
  | 'auth_failures'
  | 'ip_blocks'
  | 'notification_outbox'
  | 'spend_minutes'
  | 'spend_hours'
  | 'alerts'
  | 'personal_data';

/**
 * One batch each. `$1` is the cutoff (rows older than it go), `$2` the batch size. Keys come from an index-ordered
 * subquery, and the outer statement repeats the condition, so a row changed since it was picked stays.
 */
const BATCH_SQL: Record<RetentionTarget, string> = {
  // Refresh tokens expired before the cutoff, and every token of a session that did.
  refresh_tokens: `DELETE FROM refresh_tokens WHERE id IN (
      SELECT t.id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
       WHERE t.expires_at < $1 OR s.expires_at < $1 LIMIT $2)`,
  // Sessions expired before the cutoff whose tokens are gone (refresh_tokens runs first).
  sessions: `DELETE FROM sessions WHERE id IN (
      SELECT s.id FROM sessions s WHERE s.expires_at < $1
         AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id)
       ORDER BY s.expires_at LIMIT $2) AND expires_at < $1`,
  auth_failures: `DELETE FROM auth_failures WHERE id IN (
      SELECT id FROM auth_failures WHERE at < $1 ORDER BY at LIMIT $2)`,
  ip_blocks: `DELETE FROM ip_blocks WHERE ip IN (
      SELECT ip FROM ip_blocks WHERE until < $1 ORDER BY until LIMIT $2) AND until < $1`,
  // Delivered notifications only: pending rows are still to be sent and dead letters wait for an operator.
  notification_outbox: `DELETE FROM notification_outbox WHERE id IN (
      SELECT id FROM notification_outbox WHERE status = 'delivered' AND delivered_at < $1
       ORDER BY delivered_at LIMIT $2) AND status = 'delivered'`,
  // Minutes of the hours that ended before the cutoff, found through their hour rows (neither table has an index on
  // the time alone: migration 0027); then those hour rows, once none of their minutes is left.
  spend_minutes: `DELETE FROM spend_minutes WHERE (scope, minute, shard) IN (
      SELECT m.scope, m.minute, m.shard FROM spend_hours h
        JOIN spend_minutes m ON m.scope = h.scope AND m.shard = h.shard
                            AND m.minute >= h.hour AND m.minute < h.hour + interval '1 hour'
       WHERE h.hour <= $1::timestamptz - interval '1 hour' ORDER BY h.hour LIMIT $2)`,
  spend_hours: `DELETE FROM spend_hours h WHERE (scope, hour, shard) IN (
      SELECT scope, hour, shard FROM spend_hours WHERE hour <= $1::timestamptz - interval '1 hour' ORDER BY hour LIMIT $2)
        AND NOT EXISTS (SELECT 1 FROM spend_minutes m WHERE m.scope = h.scope AND m.shard = h.shard
                           AND m.minute >= h.hour AND m.minute < h.hour + interval '1 hour')`,
  alerts: `DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE at < $1 ORDER BY at LIMIT $2)`,
  // Sealed personal values beside the audit chain (docs/privacy.md): the records keep their refs and still verify.
  personal_data: `DELETE FROM personal_data WHERE ref IN (
      SELECT ref FROM personal_data WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
};

/** Delete one batch of `target`'s rows older than `cutoff`; answers how many went. */
export async function purgeBatch(db: Queryable, target: RetentionTarget, cutoff: Date, limit: number): Promise<number> {
  const { rowCount } = await db.query(BATCH_SQL[target], [cutoff, limit]);
  return rowCount ?? 0;
}

/** The database's clock (cutoffs are computed from it, as the rows' timestamps were). */
export async function databaseNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now;
}

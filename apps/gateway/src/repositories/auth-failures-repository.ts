import type pg from 'pg';

type Queryable = Pick<pg.PoolClient, 'query'>;

export const FAILURE_WINDOW_SECONDS = 5 * 60;
export const FAILURES_BEFORE_BLOCK = 10;
export const BLOCK_SECONDS = 24 * 60 * 60;

/** The end of an active block on this IP, or null. */
export async function activeIpBlock(db: Queryable, ip: string): Promise<Date | null> {
  const { rows } = await db.query<{ until: Date }>('SELECT until FROM ip_blocks WHERE ip = $1 AND until > now()', [ip]);
  return rows[0]?.until ?? null;
}

/**
 * Record a failed login (IP, time, reason, the username tried — never the password). When the IP reaches
 * FAILURES_BEFORE_BLOCK failures within FAILURE_WINDOW_SECONDS it is blocked for BLOCK_SECONDS and an alert is
 * recorded, in the same statement. Returns whether this failure caused a block.
 */
export async function recordLoginFailure(db: Queryable, input: { ip: string; reason: string; subject: string | null }): Promise<boolean> {
  const { rows } = await db.query<{ blocked: boolean }>(
    `WITH failure AS (
       INSERT INTO auth_failures (ip, kind, reason, subject) VALUES ($1, 'login', $2, $3) RETURNING ip
     ), recent AS (
       -- this statement's own insert is not visible here, hence the + 1
       SELECT count(*) + 1 AS n FROM auth_failures
        WHERE ip = $1 AND kind = 'login' AND at > now() - make_interval(secs => ${FAILURE_WINDOW_SECONDS})
     ), block AS (
       INSERT INTO ip_blocks (ip, until, reason)
       SELECT $1, now() + make_interval(secs => ${BLOCK_SECONDS}), 'failed_logins' FROM recent WHERE n >= ${FAILURES_BEFORE_BLOCK}
       ON CONFLICT (ip) DO UPDATE SET blocked_at = now(), until = EXCLUDED.until, reason = EXCLUDED.reason
        WHERE ip_blocks.until <= now()
       RETURNING ip
     ), alert AS (
       INSERT INTO alerts (kind, severity, detail)
       SELECT 'ip_blocked', 'warning', jsonb_build_object('ip', ip, 'reason', 'failed_logins', 'failures', ${FAILURES_BEFORE_BLOCK}) FROM block
     )
     SELECT EXISTS (SELECT 1 FROM block) AS blocked FROM failure`,
    [input.ip, input.reason, input.subject],
  );
  return rows[0]?.blocked ?? false;
}

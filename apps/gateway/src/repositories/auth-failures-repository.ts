import type pg from 'pg';
import { ALERT_KINDS } from '../domain/alert.ts';
import { raiseAlert } from './alerts-repository.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

export const FAILURE_WINDOW_SECONDS = 5 * 60;
export const FAILURES_BEFORE_BLOCK = 10;
export const BLOCK_SECONDS = 24 * 60 * 60;

/**
 * The end of the longest active block on any of `addresses` — an IP, or a network (`198.51.100.0/24`,
 * `2001:db8:1:2::/64`: a block an incident's `block_network` response set) — or null.
 */
export async function activeIpBlock(db: Queryable, addresses: readonly string[]): Promise<Date | null> {
  const { rows } = await db.query<{ until: Date | null }>(
    'SELECT max(until) AS until FROM ip_blocks WHERE ip = ANY($1::text[]) AND until > now()',
    [addresses],
  );
  return rows[0]?.until ?? null;
}

/**
 * Block a network (an incident's `block_network` response) for `seconds`, with `reason` (`incident:<id>`). False when
 * a block on it is already in force (it is left as it is).
 */
export async function blockNetwork(db: Queryable, network: string, reason: string, seconds: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO ip_blocks (ip, until, reason) VALUES ($1, now() + make_interval(secs => $3::int), $2)
     ON CONFLICT (ip) DO UPDATE SET blocked_at = now(), until = EXCLUDED.until, reason = EXCLUDED.reason
      WHERE ip_blocks.until <= now()`,
    [network, reason, seconds],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Record a failed login (IP, time, reason, the username tried — never the password). When the IP reaches
 * FAILURES_BEFORE_BLOCK failures within FAILURE_WINDOW_SECONDS it is blocked for BLOCK_SECONDS and an `ip_blocked`
 * alert is raised (in the caller's transaction, when it passes one). Returns whether this failure caused a block.
 */
export async function recordLoginFailure(
  db: Queryable,
  input: { ip: string; reason: string; subject: string | null },
): Promise<boolean> {
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
     )
     SELECT EXISTS (SELECT 1 FROM block) AS blocked FROM failure`,
    [input.ip, input.reason, input.subject],
  );
  const blocked = rows[0]?.blocked ?? false;
  if (blocked) {
    await raiseAlert(db, {
      kind: 'ip_blocked',
      severity: ALERT_KINDS.ip_blocked,
      subject: `ip:${input.ip}`,
      summary: `${input.ip} blocked for ${BLOCK_SECONDS / 3600} h after ${FAILURES_BEFORE_BLOCK} failed logins`,
      detail: { ip: input.ip, reason: 'failed_logins', failures: FAILURES_BEFORE_BLOCK },
    });
  }
  return blocked;
}

export interface IpBlock {
  ip: string;
  blockedAt: Date;
  until: Date;
  reason: string;
}

/** IP blocks still in force, newest first. */
export async function listActiveIpBlocks(db: Queryable, limit: number): Promise<IpBlock[]> {
  const { rows } = await db.query<{ ip: string; blocked_at: Date; until: Date; reason: string }>(
    'SELECT ip, blocked_at, until, reason FROM ip_blocks WHERE until > now() ORDER BY blocked_at DESC LIMIT $1',
    [limit],
  );
  return rows.map((r) => ({ ip: r.ip, blockedAt: r.blocked_at, until: r.until, reason: r.reason }));
}

/**
 * Lift an IP block (an operator decided the address is fine): the block ends now; with `reason`, only a block with
 * that reason. The failed logins stay on record
 * (and still count within their window). Returns the block as it was, or null when none is in force.
 */
export async function liftIpBlock(db: Queryable, ip: string, reason?: string): Promise<IpBlock | null> {
  const { rows } = await db.query<{ ip: string; blocked_at: Date; until: Date; reason: string }>(
    `DELETE FROM ip_blocks WHERE ip = $1 AND until > now() AND ($2::text IS NULL OR reason = $2)
     RETURNING ip, blocked_at, until, reason`,
    [ip, reason ?? null],
  );
  const r = rows[0];
  return r ? { ip: r.ip, blockedAt: r.blocked_at, until: r.until, reason: r.reason } : null;
}

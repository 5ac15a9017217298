import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';

type Queryable = Pick<pg.PoolClient, 'query'>;

export const MAX_SESSIONS_PER_USER = 3;
export const SLIDING_SECONDS = 15 * 60;

export interface SessionRecord {
  id: string;
  userId: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  ip: string;
  userAgent: string | null;
}

interface SessionRow {
  id: string;
  user_id: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  ip: string;
  user_agent: string | null;
}

const toSession = (r: SessionRow): SessionRecord => ({
  id: r.id,
  userId: r.user_id,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  expiresAt: r.expires_at,
  ip: r.ip,
  userAgent: r.user_agent,
});

/** A session is active while not revoked, before its absolute expiry, and used within the sliding window. */
function active(alias: string): string {
  return `${alias}.revoked_at IS NULL AND ${alias}.expires_at > now() AND ${alias}.last_seen_at > now() - make_interval(secs => ${SLIDING_SECONDS})`;
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function newRefreshToken(): string {
  return `c402r_${randomBytes(32).toString('base64url')}`;
}

/**
 * Open a session and its first refresh token. The user's row is locked so concurrent logins count sessions one at a
 * time; beyond MAX_SESSIONS_PER_USER the oldest active sessions are revoked ('evicted').
 */
export async function openSession(
  client: pg.PoolClient,
  input: { userId: string; ip: string; userAgent: string | null; absoluteSeconds: number; refreshSeconds: number },
): Promise<{ session: SessionRecord; refreshToken: string; evicted: string[] }> {
  await client.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [input.userId]);
  const { rows: current } = await client.query<{ id: string }>(
    `SELECT s.id FROM sessions s WHERE s.user_id = $1 AND ${active('s')} ORDER BY s.created_at, s.id`,
    [input.userId],
  );
  const evict = current.slice(0, Math.max(0, current.length - (MAX_SESSIONS_PER_USER - 1))).map((r) => r.id);
  if (evict.length > 0) {
    await client.query(
      "UPDATE sessions SET revoked_at = now(), revoked_reason = 'evicted' WHERE id = ANY($1::uuid[])",
      [evict],
    );
  }
  const id = randomUUID();
  const { rows } = await client.query<SessionRow>(
    `INSERT INTO sessions (id, user_id, expires_at, ip, user_agent)
     VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5)
     RETURNING id, user_id, created_at, last_seen_at, expires_at, ip, user_agent`,
    [id, input.userId, input.absoluteSeconds, input.ip, input.userAgent],
  );
  const refreshToken = await insertRefreshToken(client, id, input.refreshSeconds);
  return { session: toSession(rows[0]!), refreshToken, evicted: evict };
}

async function insertRefreshToken(client: Queryable, sessionId: string, refreshSeconds: number): Promise<string> {
  const token = newRefreshToken();
  // A refresh token never outlives its session's absolute expiry.
  await client.query(
    `INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at)
     SELECT $1, id, $3, least(expires_at, now() + make_interval(secs => $4)) FROM sessions WHERE id = $2`,
    [randomUUID(), sessionId, hashRefreshToken(token), refreshSeconds],
  );
  return token;
}

export type RefreshOutcome =
  | { kind: 'rotated'; sessionId: string; userId: string; refreshToken: string }
  | { kind: 'reused'; sessionId: string; userId: string }
  | { kind: 'invalid' };

/**
 * Use a refresh token once: mark it used and issue the next one in the same session. A token presented again after
 * use is a leak: the whole session (the token family) is revoked and 'reused' is returned.
 */
export async function rotateRefreshToken(
  client: pg.PoolClient,
  token: string,
  refreshSeconds: number,
): Promise<RefreshOutcome> {
  const { rows } = await client.query<{
    id: string;
    session_id: string;
    used_at: Date | null;
    expired: boolean;
    user_id: string;
    session_active: boolean;
  }>(
    `SELECT r.id, r.session_id, r.used_at, r.expires_at <= now() AS expired, s.user_id, (${active('s')}) AS session_active
       FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
      WHERE r.token_hash = $1 FOR UPDATE OF r, s`,
    [hashRefreshToken(token)],
  );
  const row = rows[0];
  if (!row) return { kind: 'invalid' };
  if (row.used_at !== null) {
    await revokeSession(client, row.session_id, 'refresh_token_reused');
    return { kind: 'reused', sessionId: row.session_id, userId: row.user_id };
  }
  if (row.expired || !row.session_active) return { kind: 'invalid' };
  await client.query('UPDATE refresh_tokens SET used_at = now() WHERE id = $1', [row.id]);
  const next = await insertRefreshToken(client, row.session_id, refreshSeconds);
  return { kind: 'rotated', sessionId: row.session_id, userId: row.user_id, refreshToken: next };
}

export async function revokeSession(db: Queryable, sessionId: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL',
    [sessionId, reason],
  );
  return rowCount === 1;
}

export async function revokeUserSessions(
  db: Queryable,
  userId: string,
  reason: string,
  except?: string,
): Promise<number> {
  const { rowCount } = await db.query(
    'UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3',
    [userId, reason, except ?? null],
  );
  return rowCount ?? 0;
}

/**
 * Check that a session is active and slide it: last_seen_at moves forward (at most once a minute, to spare writes).
 * Returns null when the session is revoked, past its absolute expiry, idle too long, or its user is disabled; else
 * whether the user has a TOTP second factor.
 */
export async function touchSession(
  db: Queryable,
  sessionId: string,
  userId: string,
): Promise<{ totpEnabled: boolean } | null> {
  const { rows } = await db.query<{ totp: boolean }>(
    `WITH s AS (
       SELECT s.id, u.totp_enabled_at IS NOT NULL AS totp FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = $1 AND s.user_id = $2 AND u.disabled_at IS NULL AND ${active('s')}
     ), slid AS (
       UPDATE sessions SET last_seen_at = now() WHERE id IN (SELECT id FROM s) AND last_seen_at < now() - interval '60 seconds'
     )
     SELECT totp FROM s`,
    [sessionId, userId],
  );
  return rows[0] ? { totpEnabled: rows[0].totp } : null;
}

export async function listActiveSessions(db: Queryable, userId: string): Promise<SessionRecord[]> {
  const { rows } = await db.query<SessionRow>(
    `SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent FROM sessions s WHERE s.user_id = $1 AND ${active('s')} ORDER BY s.created_at`,
    [userId],
  );
  return rows.map(toSession);
}

/**
 * Record the access-token signing key in use; if it differs from the one recorded before, end every active session
 * (tokens and refresh tokens issued under the old key must not outlive its rotation). Runs at start-up, once per
 * key change across all replicas: the settings row is locked while it compares and updates. Returns how many
 * sessions it ended.
 */
export async function endSessionsOnKeyRotation(
  client: pg.PoolClient,
  keyId: string,
): Promise<{ rotated: boolean; ended: number }> {
  await client.query("INSERT INTO settings (key, value) VALUES ('jwt_signing_kid', $1) ON CONFLICT (key) DO NOTHING", [
    keyId,
  ]);
  const { rows } = await client.query<{ value: string }>(
    "SELECT value FROM settings WHERE key = 'jwt_signing_kid' FOR UPDATE",
  );
  if (rows[0]!.value === keyId) return { rotated: false, ended: 0 };
  const { rowCount } = await client.query(
    "UPDATE sessions SET revoked_at = now(), revoked_reason = 'signing_key_rotated' WHERE revoked_at IS NULL AND expires_at > now()",
  );
  await client.query("UPDATE settings SET value = $1, updated_at = now() WHERE key = 'jwt_signing_kid'", [keyId]);
  return { rotated: true, ended: rowCount ?? 0 };
}

/** The session a refresh token belongs to, without using the token (for checking the console's CSRF token first). */
export async function sessionIdOfRefreshToken(db: Queryable, token: string): Promise<string | null> {
  const { rows } = await db.query<{ session_id: string }>(
    'SELECT session_id FROM refresh_tokens WHERE token_hash = $1',
    [hashRefreshToken(token)],
  );
  return rows[0]?.session_id ?? null;
}

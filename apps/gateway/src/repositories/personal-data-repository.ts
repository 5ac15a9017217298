import { randomBytes } from 'node:crypto';
import type pg from 'pg';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** The subject's key (created on first use; concurrent first uses agree on one). */
export async function subjectKey(db: Queryable, subject: string): Promise<Buffer> {
  await db.query('INSERT INTO personal_data_keys (subject, key) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING', [
    subject,
    randomBytes(32),
  ]);
  const { rows } = await db.query<{ key: Buffer }>('SELECT key FROM personal_data_keys WHERE subject = $1', [subject]);
  return rows[0]!.key;
}

export async function storePersonalData(
  db: Queryable,
  row: { ref: string; subject: string; field: string; sealed: string },
): Promise<void> {
  await db.query('INSERT INTO personal_data (ref, subject, field, sealed) VALUES ($1, $2, $3, $4)', [
    row.ref,
    row.subject,
    row.field,
    row.sealed,
  ]);
}

/** Sealed values by ref, with their subject's key (null once erased: the row is gone too, so absent). */
export async function readPersonalData(
  db: Queryable,
  refs: readonly string[],
): Promise<{ ref: string; subject: string; field: string; sealed: string; key: Buffer }[]> {
  const { rows } = await db.query<{ ref: string; subject: string; field: string; sealed: string; key: Buffer }>(
    `SELECT d.ref, d.subject, d.field, d.sealed, k.key FROM personal_data d
       JOIN personal_data_keys k ON k.subject = d.subject WHERE d.ref = ANY($1::uuid[])`,
    [refs],
  );
  return rows;
}

/** Destroy the subject's key and its sealed values. */
export async function destroySubject(db: Queryable, subject: string): Promise<{ keys: number; values: number }> {
  const values = await db.query('DELETE FROM personal_data WHERE subject = $1', [subject]);
  const keys = await db.query('DELETE FROM personal_data_keys WHERE subject = $1', [subject]);
  return { keys: keys.rowCount ?? 0, values: values.rowCount ?? 0 };
}

/**
 * Pseudonymise a user's traces outside the chain: the name becomes `erased-<id>`, the account is disabled with an
 * unusable password and no second factor, its sessions lose address and user agent (and end), and failed logins that
 * named it lose the name and address. Returns the rows changed per table.
 */
export async function pseudonymiseUser(
  db: Queryable,
  userId: string,
): Promise<{ users: number; sessions: number; authFailures: number }> {
  const { rows } = await db.query<{ username: string }>('SELECT username FROM users WHERE id = $1 FOR UPDATE', [
    userId,
  ]);
  if (!rows[0]) return { users: 0, sessions: 0, authFailures: 0 };
  const failures = await db.query(
    `UPDATE auth_failures SET subject = NULL, ip = 'erased' WHERE kind = 'login' AND subject = $1`,
    [rows[0].username],
  );
  const sessions = await db.query(
    `UPDATE sessions SET ip = 'erased', user_agent = NULL, revoked_at = coalesce(revoked_at, now()),
            revoked_reason = coalesce(revoked_reason, 'erased')
      WHERE user_id = $1`,
    [userId],
  );
  const users = await db.query(
    `UPDATE users SET username = 'erased-' || id::text, password_hash = '!erased', totp_secret_sealed = NULL,
            totp_pending_sealed = NULL, totp_enabled_at = NULL, disabled_at = coalesce(disabled_at, now()),
            disabled_reason = 'erased', erased_at = now()
      WHERE id = $1`,
    [userId],
  );
  return { users: users.rowCount ?? 0, sessions: sessions.rowCount ?? 0, authFailures: failures.rowCount ?? 0 };
}

/** Clear the memo text of every intent of an agent. */
export async function clearAgentMemos(db: Queryable, agentId: string): Promise<number> {
  const { rowCount } = await db.query('UPDATE intents SET memo = NULL WHERE agent_id = $1 AND memo IS NOT NULL', [
    agentId,
  ]);
  return rowCount ?? 0;
}

export async function agentExists(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM agents WHERE id = $1', [id]);
  return rowCount === 1;
}

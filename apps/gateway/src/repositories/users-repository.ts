import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { UserRole } from '../domain/principal.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

export interface UserRecord {
  id: string;
  username: string;
  role: UserRole;
  passwordHash: string;
  disabled: boolean;
  createdAt: Date;
}

interface UserRow {
  id: string;
  username: string;
  role: UserRole;
  password_hash: string;
  disabled_at: Date | null;
  created_at: Date;
}

function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    passwordHash: row.password_hash,
    disabled: row.disabled_at !== null,
    createdAt: row.created_at,
  };
}

const COLUMNS = 'id, username, role, password_hash, disabled_at, created_at';

export async function findUserByUsername(db: Queryable, username: string): Promise<UserRecord | null> {
  const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE username = $1`, [username]);
  return rows[0] ? toUser(rows[0]) : null;
}

export async function findUser(db: Queryable, id: string): Promise<UserRecord | null> {
  const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0] ? toUser(rows[0]) : null;
}

export async function listUsers(db: Queryable): Promise<UserRecord[]> {
  const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY created_at, id`);
  return rows.map(toUser);
}

export async function usernameExists(db: Queryable, username: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM users WHERE username = $1', [username]);
  return (rowCount ?? 0) > 0;
}

export async function createUser(
  db: Queryable,
  input: { username: string; passwordHash: string; role: UserRole },
): Promise<string> {
  const id = randomUUID();
  await db.query('INSERT INTO users (id, username, password_hash, role) VALUES ($1, $2, $3, $4)', [
    id,
    input.username,
    input.passwordHash,
    input.role,
  ]);
  return id;
}

export async function setUserRole(db: Queryable, id: string, role: UserRole): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE users SET role = $2 WHERE id = $1', [id, role]);
  return rowCount === 1;
}

export async function disableUser(db: Queryable, id: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE users SET disabled_at = now(), disabled_reason = $2 WHERE id = $1 AND disabled_at IS NULL',
    [id, reason],
  );
  return rowCount === 1;
}

export async function setPasswordHash(db: Queryable, id: string, passwordHash: string): Promise<void> {
  await db.query('UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1', [id, passwordHash]);
}

export interface TotpState {
  sealedSecret: string | null;
  sealedPending: string | null;
  lastStep: number | null;
}

export async function getTotpState(db: Queryable, userId: string): Promise<TotpState> {
  const { rows } = await db.query<{
    totp_secret_sealed: string | null;
    totp_pending_sealed: string | null;
    totp_last_step: string | null;
  }>('SELECT totp_secret_sealed, totp_pending_sealed, totp_last_step FROM users WHERE id = $1', [userId]);
  const r = rows[0];
  return {
    sealedSecret: r?.totp_secret_sealed ?? null,
    sealedPending: r?.totp_pending_sealed ?? null,
    lastStep: r?.totp_last_step ? Number(r.totp_last_step) : null,
  };
}

export async function setPendingTotp(db: Queryable, userId: string, sealed: string): Promise<void> {
  await db.query('UPDATE users SET totp_pending_sealed = $2 WHERE id = $1', [userId, sealed]);
}

/** Make the pending secret the active one (after a correct code) and remember the step used. */
export async function activateTotp(db: Queryable, userId: string, step: number): Promise<void> {
  await db.query(
    'UPDATE users SET totp_secret_sealed = totp_pending_sealed, totp_pending_sealed = NULL, totp_enabled_at = now(), totp_last_step = $2 WHERE id = $1',
    [userId, step],
  );
}

/** Record a used step, only if it is later than the last one (concurrent logins with one code: one wins). */
export async function consumeTotpStep(db: Queryable, userId: string, step: number): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)',
    [userId, step],
  );
  return rowCount === 1;
}

import type pg from 'pg';
import {
  CHANNEL_NAME,
  type ChannelKind,
  type ChannelSettings,
  type NotificationMessage,
} from '../domain/notification.ts';
import { SqlConditions } from '../db/sql-conditions.ts';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** The Postgres channel the dispatcher LISTENs on; enqueueNotification notifies it (delivered at COMMIT). */
export const NOTIFY_CHANNEL = 'clawd402_notifications';

// ---------------------------------------------------------------------------------------------------------------
// Channels

export interface ChannelRecord {
  name: string;
  kind: ChannelKind;
  settings: ChannelSettings;
  /** SecretBox-sealed secret, or null (an email channel without a password). */
  secretSealed: string | null;
  /** What the admin API shows of the secret (e.g. `…a1b2`); null when there is none. */
  secretHint: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface ChannelRow {
  name: string;
  kind: ChannelKind;
  settings: Omit<ChannelSettings, 'kind'>;
  secret_sealed: string | null;
  secret_hint: string | null;
  created_at: Date;
  updated_at: Date;
}

const CHANNEL_COLUMNS = 'name, kind, settings, secret_sealed, secret_hint, created_at, updated_at';

const toChannel = (r: ChannelRow): ChannelRecord => ({
  name: r.name,
  kind: r.kind,
  settings: Object.assign({}, r.settings, { kind: r.kind }) as ChannelSettings,
  secretSealed: r.secret_sealed,
  secretHint: r.secret_hint,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Every configured channel, by name. */
export async function listChannels(db: Queryable): Promise<ChannelRecord[]> {
  const { rows } = await db.query<ChannelRow>(`SELECT ${CHANNEL_COLUMNS} FROM notification_channels ORDER BY name`);
  return rows.map(toChannel);
}

/**
 * The names of every configured channel, sorted. For the policy linter's "every channel a policy names is
 * configured" check.
 */
export async function listChannelNames(db: Queryable | pg.Pool): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM notification_channels ORDER BY name');
  return rows.map((r) => r.name);
}

export async function findChannelsByName(db: Queryable, names: readonly string[]): Promise<Map<string, ChannelRecord>> {
  if (names.length === 0) return new Map();
  const { rows } = await db.query<ChannelRow>(
    `SELECT ${CHANNEL_COLUMNS} FROM notification_channels WHERE name = ANY($1::text[])`,
    [names],
  );
  return new Map(rows.map((r) => [r.name, toChannel(r)]));
}

/** Create or replace a channel; `created` tells which. */
export async function upsertChannel(
  db: Queryable,
  channel: { name: string; settings: ChannelSettings; secretSealed: string | null; secretHint: string | null },
): Promise<{ record: ChannelRecord; created: boolean }> {
  const { kind, ...settings } = channel.settings;
  const { rows } = await db.query<ChannelRow & { created: boolean }>(
    `INSERT INTO notification_channels (name, kind, settings, secret_sealed, secret_hint)
     VALUES ($1, $2, $3::jsonb, $4, $5)
     ON CONFLICT (name) DO UPDATE
        SET kind = EXCLUDED.kind, settings = EXCLUDED.settings, secret_sealed = EXCLUDED.secret_sealed,
            secret_hint = EXCLUDED.secret_hint, updated_at = now()
     RETURNING ${CHANNEL_COLUMNS}, (xmax = 0) AS created`,
    [channel.name, kind, JSON.stringify(settings), channel.secretSealed, channel.secretHint],
  );
  return { record: toChannel(rows[0]!), created: rows[0]!.created };
}

/** Delete a channel; false when there was none. Its pending notifications stay and fail as channel_not_configured. */
export async function deleteChannel(db: Queryable, name: string): Promise<ChannelRecord | null> {
  const { rows } = await db.query<ChannelRow>(
    `DELETE FROM notification_channels WHERE name = $1 RETURNING ${CHANNEL_COLUMNS}`,
    [name],
  );
  return rows[0] ? toChannel(rows[0]) : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Outbox

export interface NewNotification {
  /** A channel name (`slack`, `oncall`, …). It need not be configured yet: delivery retries, then dead-letters. */
  channel: string;
  /** Dotted event name, e.g. `approval.requested`, `breaker.tripped`. */
  event: string;
  /** One-line headline shown first in every format. */
  subject: string;
  /** JSON object with the facts (no secrets). `approvalId` adds Approve/Reject console links. */
  payload: object;
  /** At most one notification per (channel, dedupeKey) is ever enqueued; later ones are ignored. Also PagerDuty's dedup_key. */
  dedupeKey?: string;
}

const EVENT = /^[a-z0-9][a-z0-9_.-]{0,127}$/;
const MAX_PAYLOAD_BYTES = 32 * 1024;

function validate(n: NewNotification): string {
  if (!CHANNEL_NAME.test(n.channel)) throw new TypeError(`notification channel "${n.channel}" is not a channel name`);
  if (!EVENT.test(n.event)) throw new TypeError(`notification event "${n.event}" is not a dotted event name`);
  if (typeof n.subject !== 'string' || n.subject.length === 0 || n.subject.length > 1000)
    throw new TypeError('notification subject must be 1–1000 characters');
  if (
    n.dedupeKey !== undefined &&
    (typeof n.dedupeKey !== 'string' || n.dedupeKey.length === 0 || n.dedupeKey.length > 255)
  ) {
    throw new TypeError('notification dedupeKey must be 1–255 characters');
  }
  if (n.payload === null || typeof n.payload !== 'object' || Array.isArray(n.payload))
    throw new TypeError('notification payload must be a JSON object');
  const json = JSON.stringify(n.payload);
  if (Buffer.byteLength(json) > MAX_PAYLOAD_BYTES)
    throw new TypeError(`notification payload exceeds ${MAX_PAYLOAD_BYTES} bytes`);
  return json;
}

/**
 * Put a notification in the outbox. Call it with the client of the transaction that makes the change it announces
 * (an approval request, a breaker trip): the notification commits, or rolls back, with that change. A pool works
 * too (its own statement). The dispatcher delivers it after COMMIT; LISTEN/NOTIFY wakes it at once.
 *
 * Throws a TypeError for a malformed notification (a bug in the caller), never for an unconfigured channel.
 *
 * @example
 * await withTransaction(pool, async (client) => {
 *   const approval = await createApproval(client, intent);
 *   await enqueueNotification(client, { channel: 'slack', event: 'approval.requested', subject: `Approve 2 ETH to 0xab…`,
 *     payload: { approvalId: approval.id, intentId: intent.id, amount: '2', asset: 'ETH' }, dedupeKey: `approval:${approval.id}` });
 * });
 */
export async function enqueueNotification(client: pg.ClientBase | pg.Pool, n: NewNotification): Promise<void> {
  const json = validate(n);
  await client.query(
    `WITH inserted AS (
       INSERT INTO notification_outbox (channel, event, subject, payload, dedupe_key)
       VALUES ($1, $2, $3, $4::jsonb, $5)
       ON CONFLICT (channel, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
       RETURNING id
     )
     SELECT pg_notify('${NOTIFY_CHANNEL}', id::text) FROM inserted`,
    [n.channel, n.event, n.subject, json, n.dedupeKey ?? null],
  );
}

/** A row claimed for one delivery attempt. */
export interface ClaimedNotification extends NotificationMessage {
  /** This attempt's number (1 for the first). */
  attempt: number;
  /** Per-row limit (the test endpoint's messages are tried once); null means the dispatcher's setting. */
  maxAttempts: number | null;
}

interface ClaimedRow {
  id: string;
  channel: string;
  event: string;
  subject: string;
  payload: Record<string, unknown>;
  dedupe_key: string | null;
  created_at: Date;
  attempts: number;
  max_attempts: number | null;
}

const CLAIMED_COLUMNS = 'id, channel, event, subject, payload, dedupe_key, created_at, attempts, max_attempts';

const toClaimed = (r: ClaimedRow): ClaimedNotification => ({
  id: String(r.id),
  channel: r.channel,
  event: r.event,
  subject: r.subject,
  payload: r.payload,
  dedupeKey: r.dedupe_key,
  createdAt: r.created_at,
  attempt: r.attempts,
  maxAttempts: r.max_attempts,
});

/**
 * Claim up to `limit` due notifications for delivery: rows locked by another dispatcher are skipped (FOR UPDATE SKIP
 * LOCKED), so several gateway processes never claim the same row. Claiming counts the attempt and leases the row
 * until `leaseUntil` (its next_attempt_at): if this process dies mid-delivery, the row becomes due again then.
 */
export async function claimDueNotifications(
  db: Queryable,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<ClaimedNotification[]> {
  const { rows } = await db.query<ClaimedRow>(
    `WITH due AS (
       SELECT id FROM notification_outbox
        WHERE status = 'pending' AND next_attempt_at <= $1
        ORDER BY next_attempt_at, id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
     )
     UPDATE notification_outbox o
        SET attempts = o.attempts + 1, next_attempt_at = $2, last_attempt_at = $1
       FROM due
      WHERE o.id = due.id
     RETURNING ${CLAIMED_COLUMNS.split(', ')
       .map((c) => `o.${c}`)
       .join(', ')}`,
    [now, leaseUntil, limit],
  );
  return rows.map(toClaimed).sort((a, b) => Number(a.id) - Number(b.id));
}

/**
 * Insert a notification already claimed for its first attempt, tried at most `maxAttempts` times (the test
 * endpoint: delivered by the request itself, so no dispatcher may pick it up meanwhile; no NOTIFY).
 */
export async function insertClaimedNotification(
  db: Queryable,
  n: NewNotification,
  now: Date,
  leaseUntil: Date,
  maxAttempts: number,
): Promise<ClaimedNotification> {
  const json = validate(n);
  const { rows } = await db.query<ClaimedRow>(
    `INSERT INTO notification_outbox (channel, event, subject, payload, dedupe_key, attempts, max_attempts, next_attempt_at, last_attempt_at)
     VALUES ($1, $2, $3, $4::jsonb, $5, 1, $6, $7, $8)
     RETURNING ${CLAIMED_COLUMNS}`,
    [n.channel, n.event, n.subject, json, n.dedupeKey ?? null, maxAttempts, leaseUntil, now],
  );
  return toClaimed(rows[0]!);
}

/** Record a successful attempt (only if the row is still this attempt's: a stale process cannot overwrite). */
export async function recordDelivered(
  db: Queryable,
  id: string,
  attempt: number,
  now: Date,
  httpStatus: number | null,
): Promise<void> {
  await db.query(
    `UPDATE notification_outbox
        SET status = 'delivered', delivered_at = $3, last_http_status = $4, last_error_code = NULL, last_error = NULL
      WHERE id = $1 AND attempts = $2 AND status = 'pending'`,
    [id, attempt, now, httpStatus],
  );
}

/** Record a failed attempt: pending again at `nextAttemptAt`, or dead (dead-lettered, never retried). */
export async function recordFailed(
  db: Queryable,
  id: string,
  attempt: number,
  failure: { dead: boolean; nextAttemptAt: Date; code: string; message: string; httpStatus: number | null },
): Promise<void> {
  await db.query(
    `UPDATE notification_outbox
        SET status = $3, next_attempt_at = $4, last_error_code = $5, last_error = $6, last_http_status = $7
      WHERE id = $1 AND attempts = $2 AND status = 'pending'`,
    [
      id,
      attempt,
      failure.dead ? 'dead' : 'pending',
      failure.nextAttemptAt,
      failure.code,
      failure.message.slice(0, 500),
      failure.httpStatus,
    ],
  );
}

/** A notification's delivery state, as stored. */
export interface NotificationState {
  id: string;
  channel: string;
  event: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  deliveredAt: Date | null;
  lastErrorCode: string | null;
  lastError: string | null;
  lastHttpStatus: number | null;
}

interface StateRow {
  id: string;
  channel: string;
  event: string;
  status: NotificationState['status'];
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  last_error_code: string | null;
  last_error: string | null;
  last_http_status: number | null;
}

const toState = (r: StateRow): NotificationState => ({
  id: String(r.id),
  channel: r.channel,
  event: r.event,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastAttemptAt: r.last_attempt_at,
  deliveredAt: r.delivered_at,
  lastErrorCode: r.last_error_code,
  lastError: r.last_error,
  lastHttpStatus: r.last_http_status,
});

const STATE_COLUMNS =
  'id, channel, event, status, attempts, next_attempt_at, last_attempt_at, delivered_at, last_error_code, last_error, last_http_status';

export async function findNotificationState(db: Queryable, id: string): Promise<NotificationState | null> {
  const { rows } = await db.query<StateRow>(`SELECT ${STATE_COLUMNS} FROM notification_outbox WHERE id = $1`, [id]);
  return rows[0] ? toState(rows[0]) : null;
}

/** Notifications of a channel, newest first (for operators and tests). */
export async function listNotificationStates(
  db: Queryable,
  channel: string,
  limit = 100,
): Promise<NotificationState[]> {
  const { rows } = await db.query<StateRow>(
    `SELECT ${STATE_COLUMNS} FROM notification_outbox WHERE channel = $1 ORDER BY id DESC LIMIT $2`,
    [channel, limit],
  );
  return rows.map(toState);
}

/** The outbox for operators, newest first: by status (e.g. `dead`) and channel. */
export async function listOutbox(
  db: Queryable,
  filter: { status?: NotificationState['status']; channel?: string; limit: number },
): Promise<NotificationState[]> {
  const c = new SqlConditions();
  if (filter.status) c.add('status = ?', filter.status);
  if (filter.channel) c.add('channel = ?', filter.channel);
  const { rows } = await db.query<StateRow>(
    `SELECT ${STATE_COLUMNS} FROM notification_outbox ${c.where()} ORDER BY id DESC LIMIT ${c.param(filter.limit)}`,
    c.params,
  );
  return rows.map(toState);
}

/**
 * Send a dead-lettered notification again: back to `pending`, attempts from zero, due now, and the dispatchers woken.
 * Null when the row is not dead (compare-and-set: a retry never touches a pending or delivered notification).
 */
export async function retryDeadNotification(db: Queryable, id: string): Promise<NotificationState | null> {
  const { rows } = await db.query<StateRow>(
    `WITH moved AS (
       UPDATE notification_outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error_code = NULL,
              last_error = NULL, last_http_status = NULL
        WHERE id = $1 AND status = 'dead'
       RETURNING ${STATE_COLUMNS}
     ), woken AS (SELECT pg_notify('${NOTIFY_CHANNEL}', id::text) FROM moved)
     SELECT moved.* FROM moved, (SELECT count(*) FROM woken) w`,
    [id],
  );
  return rows[0] ? toState(rows[0]) : null;
}

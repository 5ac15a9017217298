import type pg from 'pg';
import { classifiedWrite } from '../db/errors.ts';
import { SqlConditions } from '../db/sql-conditions.ts';
import { appendAudit, type Actor } from './audit-repository.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export interface ApprovalRecord {
  id: string;
  intentId: string;
  digest: string;
  status: ApprovalStatus;
  required: number;
  approvers: string[] | null;
  roles: string[] | null;
  excludedUserId: string | null;
  channels: string[];
  escalation: { channels: string[]; timeoutSeconds: number } | null;
  expiresAt: Date;
  escalatedAt: Date | null;
  decidedAt: Date | null;
  decidedBy: string | null;
  reason: string | null;
  createdAt: Date;
  /** Users who voted to approve, in vote order. */
  approvedBy: string[];
}

/** Every column, named as ApprovalRecord names it, with the approving votes in vote order: a row is the record. */
const SELECT = `SELECT a.id, a.intent_id AS "intentId", a.digest, a.status, a.required, a.approvers, a.roles,
                       a.excluded_user_id AS "excludedUserId", a.channels, a.escalation, a.expires_at AS "expiresAt",
                       a.escalated_at AS "escalatedAt", a.decided_at AS "decidedAt", a.decided_by AS "decidedBy",
                       a.reason, a.created_at AS "createdAt",
                       coalesce((SELECT array_agg(v.user_id::text ORDER BY v.at) FROM approval_votes v
                                  WHERE v.approval_id = a.id AND v.vote = 'approve'), '{}') AS "approvedBy"
                  FROM approvals a`;

/** A new approval: the record's terms, with whose owner is excluded and how long it waits. */
export interface NewApproval extends Pick<
  ApprovalRecord,
  'id' | 'intentId' | 'digest' | 'required' | 'approvers' | 'roles' | 'channels' | 'escalation'
> {
  /** The agent whose owner may not vote (the rule's `exclude_agent_owner`), or null. */
  excludeOwnerOfAgent: string | null;
  timeoutSeconds: number;
}

/** Create the approval record of an intent now pending approval (in the deciding transaction). */
export async function insertApproval(client: Queryable, a: NewApproval): Promise<void> {
  await client.query(
    `INSERT INTO approvals (id, intent_id, digest, status, required, approvers, roles, excluded_user_id, channels, escalation, expires_at)
     VALUES ($1, $2, $3, 'pending', $4, $5, $6, (SELECT owner_user_id FROM agents WHERE id = $7::uuid), $8, $9,
             now() + make_interval(secs => $10))`,
    [
      a.id,
      a.intentId,
      a.digest,
      a.required,
      a.approvers === null ? null : JSON.stringify(a.approvers),
      a.roles === null ? null : JSON.stringify(a.roles),
      a.excludeOwnerOfAgent,
      JSON.stringify(a.channels),
      a.escalation === null ? null : JSON.stringify(a.escalation),
      a.timeoutSeconds,
    ],
  );
}

export async function findApproval(
  db: Queryable,
  id: string,
  options: { lock?: boolean } = {},
): Promise<ApprovalRecord | null> {
  if (options.lock) await db.query('SELECT 1 FROM approvals WHERE id = $1 FOR UPDATE', [id]);
  const { rows } = await db.query<ApprovalRecord>(`${SELECT} WHERE a.id = $1`, [id]);
  return rows[0] ?? null;
}

export async function findApprovalForIntent(db: Queryable, intentId: string): Promise<ApprovalRecord | null> {
  const { rows } = await db.query<ApprovalRecord>(`${SELECT} WHERE a.intent_id = $1`, [intentId]);
  return rows[0] ?? null;
}

export async function listApprovals(
  db: Queryable,
  options: { status?: ApprovalStatus; limit: number },
): Promise<ApprovalRecord[]> {
  const c = new SqlConditions();
  if (options.status) c.add('a.status = ?', options.status);
  const { rows } = await db.query<ApprovalRecord>(
    `${SELECT} ${c.where()} ORDER BY a.created_at DESC LIMIT ${c.param(options.limit)}`,
    c.params,
  );
  return rows;
}

/** Record one user's vote; false when this user already voted on this approval (a user counts once). */
export async function recordVote(
  client: Queryable,
  approvalId: string,
  userId: string,
  vote: 'approve' | 'reject',
  digest: string,
): Promise<boolean> {
  return classifiedWrite(async () => {
    const { rowCount } = await client.query(
      `INSERT INTO approval_votes (approval_id, user_id, vote, digest) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [approvalId, userId, vote, digest],
    );
    return rowCount === 1;
  });
}

/** Close an approval (compare-and-set on `pending`), audited. */
export async function closeApproval(
  client: Queryable,
  id: string,
  status: Exclude<ApprovalStatus, 'pending'>,
  actor: Actor,
  reason: string | null,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE approvals SET status = $2, decided_at = now(), decided_by = $3, reason = $4 WHERE id = $1 AND status = 'pending'`,
    [id, status, actor, reason],
  );
  if (rowCount === 1)
    await appendAudit(client, { actor, action: `approval.${status}`, subject: `approval:${id}`, data: { reason } });
  return rowCount === 1;
}

/** Pending approvals whose time ran out at `now`, locked for this transaction (others skip them). */
export async function lockExpiredApprovals(client: Queryable, now: Date, limit: number): Promise<ApprovalRecord[]> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT id FROM approvals WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [now, limit],
  );
  const out: ApprovalRecord[] = [];
  for (const { id } of rows) out.push((await findApproval(client, id))!);
  return out;
}

/** Start the escalation: the approval waits once more, until `expiresAt`. */
export async function escalateApproval(client: Queryable, id: string, expiresAt: Date): Promise<void> {
  await client.query(`UPDATE approvals SET escalated_at = now(), expires_at = $2 WHERE id = $1`, [id, expiresAt]);
  await appendAudit(client, {
    actor: 'system:approvals',
    action: 'approval.escalated',
    subject: `approval:${id}`,
    data: { expiresAt: expiresAt.toISOString() },
  });
}

/** Approved approvals whose intent still waits (the process that approved died before resuming it). */
export async function findApprovedButWaiting(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ intent_id: string }>(
    `SELECT a.intent_id FROM approvals a JOIN intents i ON i.id = a.intent_id
      WHERE a.status = 'approved' AND i.status = 'pending_approval' AND a.decided_at < now() - interval '10 seconds'
      LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.intent_id);
}

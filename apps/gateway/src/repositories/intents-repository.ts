import type pg from 'pg';
import { formatAmount, type Decision, type IntentStatus, type IntentView } from '@clawd402/protocol';
import { classifyWriteError } from '../db/errors.ts';
import { prepared } from '../db/pool.ts';
import { auditAppendCall, type AuditEntry } from './audit-repository.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

const COLUMNS = `id, agent_id, request_hash, status, type, chain_id, from_address, to_address, recipient, asset, amount,
  decimals, data, memo, decision, nonce, tx_hash, raw_tx, error_code, error_message, created_at, updated_at`;

interface IntentRow {
  id: string;
  agent_id: string;
  request_hash: string;
  status: IntentStatus;
  type: 'transfer' | 'contract_call';
  chain_id: string;
  from_address: string | null;
  to_address: string;
  recipient: string;
  asset: string;
  amount: string;
  decimals: number;
  data: string | null;
  memo: string | null;
  decision: Decision | null;
  nonce: string | null;
  tx_hash: string | null;
  raw_tx: string | null;
  error_code: string | null;
  error_message: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface IntentRecord {
  id: string;
  agentId: string;
  requestHash: string;
  status: IntentStatus;
  type: 'transfer' | 'contract_call';
  chainId: number;
  from: string | null;
  to: string;
  recipient: string;
  asset: string;
  amount: bigint;
  decimals: number;
  data: string | null;
  memo: string | null;
  decision: Decision | null;
  nonce: number | null;
  txHash: string | null;
  rawTx: string | null;
  error: { code: string; message: string } | null;
  createdAt: Date;
  updatedAt: Date;
}

function toRecord(row: IntentRow): IntentRecord {
  return {
    id: row.id,
    agentId: row.agent_id,
    requestHash: row.request_hash,
    status: row.status,
    type: row.type,
    chainId: Number(row.chain_id),
    from: row.from_address,
    to: row.to_address,
    recipient: row.recipient,
    asset: row.asset,
    amount: BigInt(row.amount),
    decimals: row.decimals,
    data: row.data,
    memo: row.memo,
    decision: row.decision,
    nonce: row.nonce === null ? null : Number(row.nonce),
    txHash: row.tx_hash,
    rawTx: row.raw_tx,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The agent-facing representation. For transfers `to` is the recipient; amounts are in the asset's units. */
export function toIntentView(intent: IntentRecord): IntentView {
  return {
    id: intent.id,
    status: intent.status,
    type: intent.type,
    chainId: intent.chainId,
    from: intent.from,
    to: intent.type === 'transfer' ? intent.recipient : intent.to,
    asset: intent.asset,
    amount: formatAmount(intent.amount, intent.decimals),
    data: intent.type === 'contract_call' ? intent.data : null,
    memo: intent.memo,
    decision: intent.decision,
    nonce: intent.nonce,
    txHash: intent.txHash,
    error: intent.error,
    createdAt: intent.createdAt.toISOString(),
    updatedAt: intent.updatedAt.toISOString(),
  };
}

export interface NewIntent {
  id: string;
  agentId: string;
  apiKeyId: string;
  idempotencyKey: string | null;
  requestHash: string;
  status: IntentStatus;
  type: 'transfer' | 'contract_call';
  chainId: number;
  from: string;
  to: string;
  recipient: string;
  asset: string;
  amount: bigint;
  decimals: number;
  data: string | null;
  memo: string | null;
  decision: Decision;
}

/**
 * Insert a decided intent, its first history event and its audit record in one statement (one round trip, one
 * implicit transaction: all three or none). With an idempotency key this agent already used, inserts nothing and
 * returns null; the caller then reads the existing intent.
 */
export async function insertIntent(db: Queryable, intent: NewIntent, audit: AuditEntry): Promise<IntentRecord | null> {
  const call = auditAppendCall(audit, 18);
  try {
    const { rows } = await db.query<IntentRow>(prepared(
      `WITH inserted AS (
         INSERT INTO intents (id, agent_id, api_key_id, idempotency_key, request_hash, status, type, chain_id, from_address,
           to_address, recipient, asset, amount, decimals, data, memo, decision)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT (agent_id, idempotency_key) DO NOTHING
         RETURNING ${COLUMNS}
       ), event AS (
         INSERT INTO intent_events (intent_id, from_status, to_status, detail)
         SELECT id, NULL, status, jsonb_build_object('policy', decision->>'policy') FROM inserted
       ), audited AS (
         SELECT ${call.sql} FROM inserted
       )
       SELECT inserted.* FROM inserted, (SELECT count(*) FROM audited) a`,
      [
        intent.id, intent.agentId, intent.apiKeyId, intent.idempotencyKey, intent.requestHash, intent.status, intent.type,
        intent.chainId, intent.from, intent.to, intent.recipient, intent.asset, intent.amount.toString(), intent.decimals,
        intent.data, intent.memo, JSON.stringify(intent.decision), ...call.params,
      ],
    ));
    return rows[0] ? toRecord(rows[0]) : null;
  } catch (cause) {
    throw classifyWriteError(cause);
  }
}

export async function findByIdempotencyKey(db: Queryable, agentId: string, key: string): Promise<IntentRecord | null> {
  const { rows } = await db.query<IntentRow>(`SELECT ${COLUMNS} FROM intents WHERE agent_id = $1 AND idempotency_key = $2`, [agentId, key]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** An agent's own intent, or null (another agent's intent is indistinguishable from a missing one). */
export async function findIntentForAgent(db: Queryable, agentId: string, id: string): Promise<IntentRecord | null> {
  const { rows } = await db.query<IntentRow>(prepared(`SELECT ${COLUMNS} FROM intents WHERE id = $1 AND agent_id = $2`, [id, agentId]));
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function findIntent(db: Queryable, id: string): Promise<IntentRecord | null> {
  const { rows } = await db.query<IntentRow>(`SELECT ${COLUMNS} FROM intents WHERE id = $1`, [id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

export interface ListCursor {
  createdAt: string;
  id: string;
}

/** Keyset pagination, newest first. Returns one page and the cursor of the last row when more may follow. */
export async function listIntentsForAgent(
  db: Queryable,
  agentId: string,
  options: { status?: IntentStatus; limit: number; after?: ListCursor },
): Promise<{ items: IntentRecord[]; next: ListCursor | null }> {
  const params: unknown[] = [agentId];
  let where = 'agent_id = $1';
  if (options.status) {
    params.push(options.status);
    where += ` AND status = $${params.length}`;
  }
  if (options.after) {
    params.push(options.after.createdAt, options.after.id);
    where += ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
  }
  params.push(options.limit + 1);
  const { rows } = await db.query<IntentRow>(
    `SELECT ${COLUMNS} FROM intents WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const items = rows.slice(0, options.limit).map(toRecord);
  const last = items[items.length - 1];
  const next = rows.length > options.limit && last ? { createdAt: last.createdAt.toISOString(), id: last.id } : null;
  return { items, next };
}

export interface TransitionFields {
  from_address?: string;
  nonce?: number;
  tx_hash?: string;
  raw_tx?: string | null;
  gas_limit?: bigint;
  max_fee_per_gas?: bigint;
  block_number?: bigint;
  gas_used?: bigint;
  effective_gas_price?: bigint;
  error_code?: string | null;
  error_message?: string | null;
}

/**
 * Move an intent from one of `from` to `to`, setting `fields`, append its history event and (when given) its audit
 * record — one statement, so all of it happens or none. Returns the updated intent, or null when the intent was not
 * in one of `from` (another process moved it first): transitions are compare-and-set, so replicas and trackers never
 * apply one twice, and an audit record is written only for a transition that happened.
 */
export async function transitionIntent(
  db: Queryable,
  id: string,
  from: readonly IntentStatus[],
  to: IntentStatus,
  options: { fields?: TransitionFields; detail?: Record<string, unknown>; audit?: AuditEntry } = {},
): Promise<IntentRecord | null> {
  const sets = ['status = $3', 'updated_at = now()'];
  const params: unknown[] = [id, from, to, JSON.stringify(options.detail ?? {})];
  for (const [column, value] of Object.entries(options.fields ?? {})) {
    params.push(typeof value === 'bigint' ? value.toString() : value);
    sets.push(`${column} = $${params.length}`);
  }
  const call = options.audit ? auditAppendCall(options.audit, params.length + 1) : null;
  if (call) params.push(...call.params);
  try {
    const { rows } = await db.query<IntentRow>(prepared(
      `WITH previous AS (
         SELECT id, status FROM intents WHERE id = $1 FOR UPDATE
       ), moved AS (
         UPDATE intents i SET ${sets.join(', ')} FROM previous p
          WHERE i.id = p.id AND p.status = ANY($2::text[])
         RETURNING ${COLUMNS.split(',').map((c) => `i.${c.trim()}`).join(', ')}, p.status AS previous_status
       ), event AS (
         INSERT INTO intent_events (intent_id, from_status, to_status, detail)
         SELECT id, previous_status, $3, $4::jsonb FROM moved
       )${call ? `, audited AS (SELECT ${call.sql} FROM moved)` : ''}
       SELECT moved.* FROM moved${call ? ', (SELECT count(*) FROM audited) a' : ''}`,
      params,
    ));
    return rows[0] ? toRecord(rows[0]) : null;
  } catch (cause) {
    throw classifyWriteError(cause);
  }
}

export interface SignedTransactionRow {
  id: string;
  from: string;
  nonce: number;
  txHash: string;
  raw: string;
  gasLimit: bigint;
  maxFeePerGas: bigint;
}

/**
 * Move a batch of intents from `approved` to `signed` with their transactions, and append their history events, in
 * one statement. Returns the rows that moved (an intent no longer `approved` is left alone and missing here).
 */
export async function markSignedBatch(client: Queryable, batch: readonly SignedTransactionRow[]): Promise<IntentRecord[]> {
  const { rows } = await client.query<IntentRow>(prepared(
    `WITH v AS (
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::numeric[], $7::numeric[])
         AS v(id, from_address, nonce, tx_hash, raw_tx, gas_limit, max_fee_per_gas)
     ), moved AS (
       UPDATE intents i SET status = 'signed', from_address = v.from_address, nonce = v.nonce, tx_hash = v.tx_hash,
              raw_tx = v.raw_tx, gas_limit = v.gas_limit, max_fee_per_gas = v.max_fee_per_gas, updated_at = now()
         FROM v WHERE i.id = v.id AND i.status = 'approved'
       RETURNING ${COLUMNS.split(',').map((c) => `i.${c.trim()}`).join(', ')}
     ), events AS (
       INSERT INTO intent_events (intent_id, from_status, to_status, detail)
       SELECT id, 'approved', 'signed', jsonb_build_object('nonce', nonce, 'txHash', tx_hash) FROM moved
     )
     SELECT * FROM moved`,
    [
      batch.map((b) => b.id),
      batch.map((b) => b.from),
      batch.map((b) => b.nonce),
      batch.map((b) => b.txHash),
      batch.map((b) => b.raw),
      batch.map((b) => b.gasLimit.toString()),
      batch.map((b) => b.maxFeePerGas.toString()),
    ],
  ));
  return rows.map(toRecord);
}

/**
 * Unsettled intents (`signed` or `submitted`) on a chain, oldest first: those whose transaction hash is in `txHashes`,
 * or, with `olderThanMs`, those not updated for that long (the tracker's sweep), or, with `status`, only that one.
 */
export async function findInFlight(
  db: Queryable,
  chainId: number,
  options: { txHashes?: readonly string[]; olderThanMs?: number; status?: 'signed' | 'submitted'; limit: number },
): Promise<IntentRecord[]> {
  const params: unknown[] = [chainId, options.status ? [options.status] : ['signed', 'submitted'], options.limit];
  let where = 'chain_id = $1 AND status = ANY($2::text[])';
  if (options.txHashes) {
    params.push(options.txHashes);
    where += ` AND tx_hash = ANY($${params.length}::text[])`;
  }
  if (options.olderThanMs !== undefined) {
    params.push(options.olderThanMs);
    where += ` AND updated_at < now() - make_interval(secs => $${params.length}::double precision / 1000)`;
  }
  const { rows } = await db.query<IntentRow>(prepared(`SELECT ${COLUMNS} FROM intents WHERE ${where} ORDER BY updated_at LIMIT $3`, params));
  return rows.map(toRecord);
}

/**
 * Intents approved longer than `olderThanMs` ago that never got a signed transaction: their process died between
 * recording the decision and signing (a signing lane finishes in seconds). Nothing was signed for them, so they
 * fail closed with `signing_abandoned`; each transition is audited and compare-and-set.
 */
export async function findAbandonedApprovals(db: Queryable, olderThanMs: number, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM intents WHERE status = 'approved' AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY updated_at LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows.map((r) => r.id);
}

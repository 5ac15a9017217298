import type pg from 'pg';
import { formatAmount, type Decision, type IntentStatus, type IntentView } from '@clawd402/protocol';

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
 * Insert a decided intent. With an idempotency key already used by this agent, inserts nothing and returns null;
 * the caller then reads the existing intent.
 */
export async function insertIntent(client: Queryable, intent: NewIntent): Promise<IntentRecord | null> {
  const { rows } = await client.query<IntentRow>(
    `INSERT INTO intents (id, agent_id, api_key_id, idempotency_key, request_hash, status, type, chain_id, from_address,
       to_address, recipient, asset, amount, decimals, data, memo, decision)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
     ON CONFLICT (agent_id, idempotency_key) DO NOTHING
     RETURNING ${COLUMNS}`,
    [
      intent.id, intent.agentId, intent.apiKeyId, intent.idempotencyKey, intent.requestHash, intent.status, intent.type,
      intent.chainId, intent.from, intent.to, intent.recipient, intent.asset, intent.amount.toString(), intent.decimals,
      intent.data, intent.memo, JSON.stringify(intent.decision),
    ],
  );
  if (!rows[0]) return null;
  await client.query('INSERT INTO intent_events (intent_id, from_status, to_status, detail) VALUES ($1, NULL, $2, $3)', [
    intent.id,
    intent.status,
    JSON.stringify({ policy: intent.decision.policy }),
  ]);
  return toRecord(rows[0]);
}

export async function findByIdempotencyKey(db: Queryable, agentId: string, key: string): Promise<IntentRecord | null> {
  const { rows } = await db.query<IntentRow>(`SELECT ${COLUMNS} FROM intents WHERE agent_id = $1 AND idempotency_key = $2`, [agentId, key]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** An agent's own intent, or null (another agent's intent is indistinguishable from a missing one). */
export async function findIntentForAgent(db: Queryable, agentId: string, id: string): Promise<IntentRecord | null> {
  const { rows } = await db.query<IntentRow>(`SELECT ${COLUMNS} FROM intents WHERE id = $1 AND agent_id = $2`, [id, agentId]);
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
 * Move an intent from one of `from` to `to`, setting `fields`, and append the history event, in the caller's
 * transaction. Returns the updated intent, or null when the intent was not in one of `from` (another process moved
 * it first): transitions are compare-and-set, so replicas and the tracker never apply one twice.
 */
export async function transitionIntent(
  client: Queryable,
  id: string,
  from: readonly IntentStatus[],
  to: IntentStatus,
  fields: TransitionFields = {},
  detail: Record<string, unknown> = {},
): Promise<IntentRecord | null> {
  const sets = ['status = $3', 'updated_at = now()'];
  const params: unknown[] = [id, from, to];
  for (const [column, value] of Object.entries(fields)) {
    params.push(typeof value === 'bigint' ? value.toString() : value);
    sets.push(`${column} = $${params.length}`);
  }
  const { rows } = await client.query<IntentRow & { previous: IntentStatus }>(
    `UPDATE intents i SET ${sets.join(', ')}
       FROM (SELECT id, status AS previous FROM intents WHERE id = $1 FOR UPDATE) p
      WHERE i.id = p.id AND p.previous = ANY($2::text[])
      RETURNING ${COLUMNS.split(',').map((c) => `i.${c.trim()}`).join(', ')}, p.previous`,
    params,
  );
  const row = rows[0];
  if (!row) return null;
  await client.query('INSERT INTO intent_events (intent_id, from_status, to_status, detail) VALUES ($1, $2, $3, $4)', [
    id,
    row.previous,
    to,
    JSON.stringify(detail),
  ]);
  return toRecord(row);
}

/** Intents whose transaction is signed or submitted and not yet settled, oldest first. */
export async function findInFlight(db: Queryable, chainId: number, limit: number): Promise<IntentRecord[]> {
  const { rows } = await db.query<IntentRow>(
    `SELECT ${COLUMNS} FROM intents WHERE chain_id = $1 AND status IN ('signed', 'submitted') ORDER BY updated_at LIMIT $2`,
    [chainId, limit],
  );
  return rows.map(toRecord);
}

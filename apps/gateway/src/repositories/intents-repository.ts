import type pg from 'pg';
import type { Decision, IntentOrigin, IntentStatus, SimulationView, SwapView } from '@clawd402/protocol';
import { classifiedWrite } from '../db/errors.ts';
import { jsonRows, jsonRowsSql, prepared } from '../db/pool.ts';
import { SqlConditions } from '../db/sql-conditions.ts';
import { AUDIT_ROW_COLUMNS, auditAppendCall, auditRows, canonicalRecord, type AuditEntry } from './audit-repository.ts';
import { RESERVE_BUCKETS_SQL, adjustBucketsSql, settledUsdSql } from './spend-repository.ts';
import type { IntentRecord, IntentType, SigningRequestRecord } from '../domain/intent.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

const COLUMNS = `id, agent_id, api_key_id, request_hash, status, type, chain_id, from_address, to_address, recipient, asset, amount,
  decimals, data, memo, decision, nonce, tx_hash, raw_tx, error_code, error_message, created_at, updated_at,
  simulation, swap, value_usd_micros, deadline, submit_route, replacements, cancel_reason,
  signing_request, signing_digest, signature, origin`;
/**
 * COLUMNS of the alias `i` (an UPDATE's target) and of the CTE `moved`: named one by one, so nothing else comes
 * back.
 */
const I_COLUMNS = prefixed('i');
const MOVED_COLUMNS = prefixed('moved');

function prefixed(alias: string): string {
  return COLUMNS.split(',')
    .map((c) => `${alias}.${c.trim()}`)
    .join(', ');
}

interface IntentRow {
  id: string;
  agent_id: string;
  api_key_id: string | null;
  request_hash: string;
  status: IntentStatus;
  type: IntentType;
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
  simulation: SimulationView | null;
  swap: SwapView | null;
  value_usd_micros: string | null;
  deadline: Date | null;
  submit_route: 'public' | 'private' | null;
  replacements: number;
  cancel_reason: 'agent' | 'operator' | 'deadline' | null;
  signing_request: SigningRequestRecord | null;
  signing_digest: string | null;
  signature: string | null;
  origin: IntentOrigin | null;
}

export type { IntentType, SigningRequestRecord, IntentRecord } from '../domain/intent.ts';

function toRecord(row: IntentRow): IntentRecord {
  return {
    id: row.id,
    agentId: row.agent_id,
    apiKeyId: row.api_key_id,
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
    simulation: row.simulation,
    swap: row.swap,
    valueUsdMicros: row.value_usd_micros === null ? null : BigInt(row.value_usd_micros),
    deadline: row.deadline,
    submitRoute: row.submit_route,
    replacements: row.replacements,
    cancelReason: row.cancel_reason,
    signing: row.signing_request
      ? {
          operation: row.signing_request.operation,
          request: row.signing_request.request,
          digest: row.signing_digest,
          signature: row.signature,
        }
      : null,
    origin: row.origin,
    x402: row.signing_request?.x402 ?? null,
  };
}

export interface NewIntent {
  id: string;
  agentId: string;
  apiKeyId: string;
  idempotencyKey: string | null;
  requestHash: string;
  status: IntentStatus;
  type: IntentType;
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
  /** The surface it arrived through (docs/mcp.md). */
  origin: IntentOrigin;
  /** Valuation and reservation; a non-zero `reserved` starts the intent's spend as `reserved` in this minute. */
  money?: {
    valueUsd: bigint | null;
    feeUsd: bigint | null;
    reserved: bigint;
    valuation: Record<string, unknown>;
    gas: bigint;
    fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
  };
  /** What the path learnt before the decision, stored in the same statement: simulation, swap plan, deadline, signing request. */
  stored?: {
    simulation?: SimulationView | null;
    swap?: SwapView | null;
    deadline?: Date | null;
    signing?: { request: SigningRequestRecord; digest: string | null } | null;
  };
}

/** The valuation column: what the price book said, with the fees it was valued at (read back by max_fee_per_gas). */
function storedValuation(i: NewIntent): Record<string, unknown> | null {
  return i.money
    ? {
        ...i.money.valuation,
        maxFeePerGas: i.money.fees.maxFeePerGas.toString(),
        maxPriorityFeePerGas: i.money.fees.maxPriorityFeePerGas.toString(),
      }
    : null;
}

function storedColumns(i: NewIntent): [string | null, string | null, Date | null, string | null, string | null] {
  const s = i.stored;
  return [
    s?.simulation ? JSON.stringify(s.simulation) : null,
    s?.swap ? JSON.stringify(s.swap) : null,
    s?.deadline ?? null,
    s?.signing ? JSON.stringify(s.signing.request) : null,
    s?.signing?.digest ?? null,
  ];
}

/**
 * Insert a decided intent, its first history event and its audit record in one statement (one round trip, one
 * implicit transaction: all three or none). With an idempotency key this agent already used, inserts nothing and
 * returns null; the caller then reads the existing intent.
 */
export async function insertIntent(db: Queryable, intent: NewIntent, audit: AuditEntry): Promise<IntentRecord | null> {
  const call = auditAppendCall(audit, 29);
  const money = intent.money;
  return classifiedWrite(async () => {
    const { rows } = await db.query<IntentRow>(
      prepared(
        `WITH inserted AS (
         INSERT INTO intents (id, agent_id, api_key_id, idempotency_key, request_hash, status, type, chain_id, from_address,
           to_address, recipient, asset, amount, decimals, data, memo, decision, value_usd_micros, fee_usd_micros,
           spend_usd_micros, spend_state, spend_minute, valuation, gas_limit, max_fee_per_gas,
           simulation, swap, deadline, signing_request, signing_digest, origin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
           CASE WHEN $20::bigint > 0 THEN 'reserved' END, CASE WHEN $20::bigint > 0 THEN date_trunc('minute', now()) END,
           $21::jsonb, $22::numeric, NULLIF($21::jsonb->>'maxFeePerGas', '')::numeric,
           $23::jsonb, $24::jsonb, $25::timestamptz, $26::jsonb, $27, $28::jsonb)
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
          intent.id,
          intent.agentId,
          intent.apiKeyId,
          intent.idempotencyKey,
          intent.requestHash,
          intent.status,
          intent.type,
          intent.chainId,
          intent.from,
          intent.to,
          intent.recipient,
          intent.asset,
          intent.amount.toString(),
          intent.decimals,
          intent.data,
          intent.memo,
          JSON.stringify(intent.decision),
          money?.valueUsd?.toString() ?? null,
          money?.feeUsd?.toString() ?? null,
          (money?.reserved ?? 0n).toString(),
          money ? JSON.stringify(storedValuation(intent)) : null,
          money ? money.gas.toString() : null,
          ...storedColumns(intent),
          JSON.stringify(intent.origin),
          ...call.params,
        ],
      ),
    );
    return rows[0] ? toRecord(rows[0]) : null;
  });
}

/** The rows insertIntentsBatch records, as its first parameter (jsonRows) holds them. */
const INTENT_ROWS_SQL = jsonRowsSql(1, 'v', {
  id: 'uuid',
  agent_id: 'uuid',
  api_key_id: 'uuid',
  idempotency_key: 'text',
  request_hash: 'text',
  status: 'text',
  type: 'text',
  chain_id: 'bigint',
  from_address: 'text',
  to_address: 'text',
  recipient: 'text',
  asset: 'text',
  amount: 'numeric',
  decimals: 'int',
  data: 'text',
  memo: 'text',
  decision: 'jsonb',
  value_usd: 'bigint',
  fee_usd: 'bigint',
  reserved: 'bigint',
  valuation: 'jsonb',
  gas_limit: 'numeric',
  simulation: 'jsonb',
  swap: 'jsonb',
  deadline: 'timestamptz',
  signing_request: 'jsonb',
  signing_digest: 'text',
  origin: 'jsonb',
});

/**
 * Record a batch of decided intents in one statement (the decision lanes' hot path: one round trip for the whole
 * batch): the intents, their first history events, their audit records (`audit[i]` describes `intents[i]`, appended
 * in order) and the reservations of those that reserve, in their agent, key and global buckets. Rows whose
 * Idempotency-Key this agent already used are skipped with their audit record and reservation; the result holds only
 * the rows inserted, keyed by id. Run it in the transaction that locked the batch's spend scopes.
 */
export async function insertIntentsBatch(
  db: Queryable,
  intents: readonly NewIntent[],
  audit: readonly AuditEntry[],
): Promise<Map<string, IntentRecord>> {
  if (intents.length === 0) return new Map();
  if (audit.length !== intents.length) throw new Error('insertIntentsBatch: one audit record per intent');
  const at = new Date().toISOString();
  return classifiedWrite(async () => {
    const { rows } = await db.query<IntentRow>(
      prepared(
        `WITH v AS (
         SELECT * FROM ${INTENT_ROWS_SQL}
       ), inserted AS (
         INSERT INTO intents (id, agent_id, api_key_id, idempotency_key, request_hash, status, type, chain_id, from_address,
           to_address, recipient, asset, amount, decimals, data, memo, decision, value_usd_micros, fee_usd_micros,
           spend_usd_micros, spend_state, spend_minute, valuation, gas_limit, max_fee_per_gas,
           simulation, swap, deadline, signing_request, signing_digest, origin)
         SELECT id, agent_id, api_key_id, idempotency_key, request_hash, status, type, chain_id, from_address, to_address,
                recipient, asset, amount, decimals, data, memo, decision, value_usd, fee_usd, reserved,
                CASE WHEN reserved > 0 THEN 'reserved' END, CASE WHEN reserved > 0 THEN date_trunc('minute', now()) END,
                valuation, gas_limit, NULLIF(valuation->>'maxFeePerGas', '')::numeric,
                simulation, swap, deadline, signing_request, signing_digest, origin
           FROM v ORDER BY ord
         ON CONFLICT (agent_id, idempotency_key) DO NOTHING
         RETURNING ${COLUMNS}
       ), event AS (
         INSERT INTO intent_events (intent_id, from_status, to_status, detail)
         SELECT id, NULL, status, jsonb_build_object('policy', decision->>'policy') FROM inserted
       ), audited AS (
         SELECT audit_append($2::timestamptz, a.actor, a.action, a.subject, a.record)
           FROM (SELECT a.* FROM ${jsonRowsSql(3, 'a', AUDIT_ROW_COLUMNS)}
                   JOIN v ON v.ord = a.ord JOIN inserted i ON i.id = v.id
                  ORDER BY a.ord) a
       ), r AS (
         SELECT v.agent_id, v.api_key_id, date_trunc('minute', now()) AS spend_minute, v.reserved AS spend_usd_micros
           FROM v JOIN inserted i ON i.id = v.id WHERE v.reserved > 0
       ), ${RESERVE_BUCKETS_SQL}
       SELECT inserted.* FROM inserted, (SELECT count(*) FROM audited) a, (SELECT count(*) FROM reserved) b`,
        [
          jsonRows(
            intents.map((i) => {
              const s = i.stored;
              return {
                id: i.id,
                agent_id: i.agentId,
                api_key_id: i.apiKeyId,
                idempotency_key: i.idempotencyKey,
                request_hash: i.requestHash,
                status: i.status,
                type: i.type,
                chain_id: i.chainId,
                from_address: i.from,
                to_address: i.to,
                recipient: i.recipient,
                asset: i.asset,
                amount: i.amount.toString(),
                decimals: i.decimals,
                data: i.data,
                memo: i.memo,
                decision: i.decision,
                value_usd: i.money?.valueUsd?.toString() ?? null,
                fee_usd: i.money?.feeUsd?.toString() ?? null,
                reserved: (i.money?.reserved ?? 0n).toString(),
                valuation: storedValuation(i),
                gas_limit: i.money ? i.money.gas.toString() : null,
                simulation: s?.simulation ?? null,
                swap: s?.swap ?? null,
                deadline: s?.deadline ?? null,
                signing_request: s?.signing ? s.signing.request : null,
                signing_digest: s?.signing?.digest ?? null,
                origin: i.origin,
              };
            }),
          ),
          at,
          auditRows(at, audit),
        ],
      ),
    );
    return new Map(rows.map((r) => [r.id, toRecord(r)]));
  });
}

export async function findByIdempotencyKey(db: Queryable, agentId: string, key: string): Promise<IntentRecord | null> {
  const { rows } = await db.query<IntentRow>(
    `SELECT ${COLUMNS} FROM intents WHERE agent_id = $1 AND idempotency_key = $2`,
    [agentId, key],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/** An agent's own intent, or null (another agent's intent is indistinguishable from a missing one). */
export async function findIntentForAgent(db: Queryable, agentId: string, id: string): Promise<IntentRecord | null> {
  const { rows } = await db.query<IntentRow>(
    prepared(`SELECT ${COLUMNS} FROM intents WHERE id = $1 AND agent_id = $2`, [id, agentId]),
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/** An agent's own intents among `ids`, in no particular order (ids of other agents' intents are left out). */
export async function findIntentsForAgent(
  db: Queryable,
  agentId: string,
  ids: readonly string[],
): Promise<IntentRecord[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<IntentRow>(
    prepared(`SELECT ${COLUMNS} FROM intents WHERE id = ANY($1::uuid[]) AND agent_id = $2`, [ids, agentId]),
  );
  return rows.map(toRecord);
}

/**
 * The NOTIFY channel on which every change of an intent's status or transaction hash is announced (a statement-level
 * trigger, migrations/0028): each payload lists the changes of one statement, `<id>:<status>:<agent id>` joined by
 * `,`, at most 80 to a payload.
 */
export const INTENTS_CHANNEL = 'clawd402_intents';

/** One announced change of an intent (from a NOTIFY payload or the embedded fallback's poll). */
export interface IntentChangeNotice {
  id: string;
  status: IntentStatus;
  agentId: string;
}

/** Parse an {@link INTENTS_CHANNEL} payload into its changes; a malformed entry is skipped, the others are kept. */
export function parseIntentNotices(payload: string | undefined): IntentChangeNotice[] {
  const notices: IntentChangeNotice[] = [];
  for (const entry of (payload ?? '').split(',')) {
    const [id, status, agentId, ...rest] = entry.split(':');
    if (id && status && agentId && rest.length === 0) notices.push({ id, status: status as IntentStatus, agentId });
  }
  return notices;
}

/**
 * Intents of `agentIds` updated at or after `since` (the embedded fallback, where no NOTIFY crosses connections):
 * id, status and agent only, at most `limit`, oldest change first.
 */
export async function findIntentChangesSince(
  db: Queryable,
  agentIds: readonly string[],
  since: Date,
  limit: number,
): Promise<Array<IntentChangeNotice & { updatedAt: Date }>> {
  if (agentIds.length === 0) return [];
  const { rows } = await db.query<{ id: string; status: IntentStatus; agent_id: string; updated_at: Date }>(
    `SELECT id, status, agent_id, updated_at FROM intents
      WHERE agent_id = ANY($1::uuid[]) AND updated_at >= $2 ORDER BY updated_at LIMIT $3`,
    [agentIds, since, limit],
  );
  return rows.map((r) => ({ id: r.id, status: r.status, agentId: r.agent_id, updatedAt: r.updated_at }));
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
export function listIntentsForAgent(
  db: Queryable,
  agentId: string,
  options: { status?: IntentStatus; limit: number; after?: ListCursor },
): Promise<{ items: IntentRecord[]; next: ListCursor | null }> {
  return listIntents(db, { ...options, agentId });
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
  value_usd_micros?: bigint | null;
  fee_usd_micros?: bigint | null;
  spend_usd_micros?: bigint;
  spend_state?: 'reserved' | 'committed' | 'settled' | 'released';
  spend_minute?: Date;
  /** JSON text. */
  valuation?: string;
  /** Signature intents: the signature, set with the move to `signed` (docs/signatures.md). */
  signature?: string;
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
  return classifiedWrite(async () => {
    const { rows } = await db.query<IntentRow>(
      prepared(
        `WITH previous AS (
         SELECT id, status FROM intents WHERE id = $1 FOR UPDATE
       ), moved AS (
         UPDATE intents i SET ${sets.join(', ')} FROM previous p
          WHERE i.id = p.id AND p.status = ANY($2::text[])
         RETURNING ${I_COLUMNS}, p.status AS previous_status
       ), event AS (
         INSERT INTO intent_events (intent_id, from_status, to_status, detail)
         SELECT id, previous_status, $3, $4::jsonb FROM moved
       )${call ? `, audited AS (SELECT ${call.sql} FROM moved)` : ''}
       SELECT moved.* FROM moved${call ? ', (SELECT count(*) FROM audited) a' : ''}`,
        params,
      ),
    );
    return rows[0] ? toRecord(rows[0]) : null;
  });
}

export interface SignedTransactionRow {
  id: string;
  from: string;
  nonce: number;
  txHash: string;
  raw: string;
  gasLimit: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  /** Where it will be broadcast (its replacements keep the route). */
  route: 'public' | 'private';
  /**
   * The intent as the signing transaction locked it (lockSigningBatch, FOR UPDATE): the columns the statement does not
   * set cannot have changed since, so the record returned is this one with the columns it set.
   */
  locked: IntentRecord;
}

/**
 * Move a batch of intents from `approved` to `signed` with their transactions, and append their history events, their
 * `original` rows in intent_transactions and their audit records (`audit`, one per row, in order), and advance each
 * address's nonce row to its `next`, in one statement inside the signing transaction (which holds those rows' locks).
 * Returns the rows that moved (an intent no longer `approved` is left alone and missing here, and gets no audit
 * record): the caller rolls the transaction back unless every row moved. Only the columns it sets come back from
 * Postgres; the rest of each record is its `locked` row's.
 */
export async function markSignedBatch(
  client: Queryable,
  batch: readonly SignedTransactionRow[],
  audit: readonly AuditEntry[],
  nonces: { chainId: number; next: readonly { address: string; next: number }[] },
): Promise<IntentRecord[]> {
  const at = new Date().toISOString();
  const { rows } = await classifiedWrite(() =>
    client.query<SignedColumns>(
      prepared(
        `WITH v AS (
         SELECT * FROM ${jsonRowsSql(1, 'v', {
           id: 'uuid',
           from_address: 'text',
           nonce: 'bigint',
           tx_hash: 'text',
           raw_tx: 'text',
           gas_limit: 'numeric',
           max_fee_per_gas: 'numeric',
           max_priority_fee_per_gas: 'numeric',
           route: 'text',
         })}
       ), moved AS (
         UPDATE intents i SET status = 'signed', from_address = v.from_address, nonce = v.nonce, tx_hash = v.tx_hash,
                raw_tx = v.raw_tx, gas_limit = v.gas_limit, max_fee_per_gas = v.max_fee_per_gas, updated_at = now(),
                submit_route = v.route,
                spend_state = CASE WHEN i.spend_state = 'reserved' THEN 'committed' ELSE i.spend_state END
           FROM v WHERE i.id = v.id AND i.status = 'approved'
         RETURNING i.id, i.status, i.chain_id, i.from_address, i.nonce, i.tx_hash, i.raw_tx, i.updated_at, i.submit_route
       ), events AS (
         INSERT INTO intent_events (intent_id, from_status, to_status, detail)
         SELECT id, 'approved', 'signed', jsonb_build_object('nonce', nonce, 'txHash', tx_hash, 'route', submit_route) FROM moved
       ), attempts AS (
         INSERT INTO intent_transactions (tx_hash, intent_id, chain_id, from_address, nonce, kind, route, max_fee_per_gas,
                                          max_priority_fee_per_gas, raw_tx, actor)
         SELECT m.tx_hash, m.id, m.chain_id, m.from_address, m.nonce, 'original', m.submit_route, v.max_fee_per_gas,
                v.max_priority_fee_per_gas, m.raw_tx, 'system:gateway'
           FROM moved m JOIN v ON v.id = m.id
       ), audited AS (
         SELECT audit_append($2::timestamptz, a.actor, a.action, a.subject, a.record)
           FROM ${jsonRowsSql(3, 'a', AUDIT_ROW_COLUMNS)}
           JOIN v ON v.ord = a.ord JOIN moved m ON m.id = v.id
          ORDER BY a.ord
       ), consumed AS (
         UPDATE nonces n SET next_nonce = c.next, updated_at = now()
           FROM unnest($5::text[], $6::bigint[]) AS c(address, next)
          WHERE n.chain_id = $4 AND n.address = c.address
       )
       SELECT moved.* FROM moved, (SELECT count(*) FROM audited) c`,
        [
          jsonRows(
            batch.map((b) => ({
              id: b.id,
              from_address: b.from,
              nonce: b.nonce,
              tx_hash: b.txHash,
              raw_tx: b.raw,
              gas_limit: b.gasLimit.toString(),
              max_fee_per_gas: b.maxFeePerGas.toString(),
              max_priority_fee_per_gas: b.maxPriorityFeePerGas.toString(),
              route: b.route,
            })),
          ),
          at,
          auditRows(at, audit),
          nonces.chainId,
          nonces.next.map((n) => n.address),
          nonces.next.map((n) => n.next),
        ],
      ),
    ),
  );
  const locked = new Map(batch.map((b) => [b.id, b.locked]));
  return rows.map((r) => ({
    ...locked.get(r.id)!,
    status: r.status,
    from: r.from_address,
    nonce: Number(r.nonce),
    txHash: r.tx_hash,
    rawTx: r.raw_tx,
    updatedAt: r.updated_at,
    submitRoute: r.submit_route,
  }));
}

/** The columns markSignedBatch sets, as it returns them. */
interface SignedColumns {
  id: string;
  status: IntentStatus;
  chain_id: string;
  from_address: string;
  nonce: string;
  tx_hash: string;
  raw_tx: string;
  updated_at: Date;
  submit_route: IntentRecord['submitRoute'];
}

/** One broadcast to record: the intent and what its `intent.submitted` audit record says. */
export interface SubmittedRow {
  id: string;
  chainId: number;
  txHash: string | null;
  route: 'public' | 'private';
}

/**
 * Move a batch of broadcast intents from `signed` to `submitted`, with their history events and one `intent.submitted`
 * audit record each, in one statement (one audit-chain turn for the batch). Returns the rows that moved; an intent no
 * longer `signed` (a tracker settled it from its receipt first) is left alone and missing here. The rows are locked in
 * id order, as every statement that moves several intents locks them (lockIntents, markSettledBatch), so a tracker
 * settling a block in another process queues behind this one instead of deadlocking with it. They are found by id
 * (`= ANY`, the primary key), not by a join with the JSON rows: Postgres estimates any json_to_recordset at 100 rows,
 * and joined with it the intents table was scanned whole while its statistics were stale or it was small.
 */
export async function markSubmittedBatch(db: Queryable, batch: readonly SubmittedRow[]): Promise<IntentRecord[]> {
  const at = new Date().toISOString();
  const records = batch.map((b) =>
    canonicalRecord(at, {
      actor: 'system:gateway',
      action: 'intent.submitted',
      subject: `intent:${b.id}`,
      data: { chainId: b.chainId, txHash: b.txHash, route: b.route },
    }),
  );
  return classifiedWrite(async () => {
    const { rows } = await db.query<IntentRow>(
      prepared(
        `WITH v AS (
         SELECT * FROM ${jsonRowsSql(1, 'v', { id: 'uuid', record: 'text' })}
       ), locked AS (
         SELECT i.id FROM intents i WHERE i.id = ANY($3::uuid[]) ORDER BY i.id FOR UPDATE OF i
       ), moved AS (
         UPDATE intents i SET status = 'submitted', updated_at = now() FROM v, locked l
          WHERE i.id = v.id AND l.id = v.id AND i.status = 'signed'
         RETURNING ${I_COLUMNS}, v.record, v.ord
       ), events AS (
         INSERT INTO intent_events (intent_id, from_status, to_status, detail)
         SELECT id, 'signed', 'submitted', '{}'::jsonb FROM moved
       ), audited AS (
         SELECT audit_append($2::timestamptz, 'system:gateway', 'intent.submitted', 'intent:' || m.id, m.record)
           FROM (SELECT * FROM moved ORDER BY ord) m
       )
       SELECT ${MOVED_COLUMNS} FROM moved, (SELECT count(*) FROM audited) a ORDER BY moved.ord`,
        [jsonRows(batch.map((b, i) => ({ id: b.id, record: records[i] }))), at, batch.map((b) => b.id)],
      ),
    );
    return rows.map(toRecord);
  });
}

/** One mined transaction ending its intent (13-settle.ts): the ending, the receipt's figures and the records' extras. */
export interface SettledRow {
  id: string;
  status: 'confirmed' | 'failed' | 'cancelled' | 'expired';
  txHash: string;
  blockNumber: bigint;
  gasUsed: bigint;
  effectiveGasPrice: bigint;
  error: { error_code: string; error_message: string } | null;
  /** The intent event's detail. */
  detail: Record<string, unknown>;
  /** Its audit record (`intent.<status>`, actor system:tracker). */
  audit: AuditEntry;
}

/**
 * Move a batch of mined intents from `signed` or `submitted` to their endings with the receipts' figures, their
 * history events and one audit record each, and close their spends — trued up to what the transactions really cost
 * (settledUsdSql), or released — with their buckets, in one statement (one turn of the audit chain for the batch): how
 * the tracker settles a block. Compare-and-set: an intent no longer in flight (another tracker settled it, it was
 * cancelled) is left alone, gets no record, and is missing from what this returns. A spend already closed stays as it
 * is. Returns the id, ending, chain and transaction of each intent it ended, in batch order.
 */
export async function markSettledBatch(db: Queryable, batch: readonly SettledRow[]): Promise<SettledIntent[]> {
  if (batch.length === 0) return [];
  const at = new Date().toISOString();
  return classifiedWrite(async () => {
    const { rows } = await db.query<{ id: string; status: IntentStatus; chain_id: string; tx_hash: string }>(
      prepared(
        `WITH v AS (
         SELECT * FROM ${jsonRowsSql(1, 'v', {
           id: 'uuid',
           status: 'text',
           tx_hash: 'text',
           block_number: 'numeric',
           gas_used: 'numeric',
           effective_gas_price: 'numeric',
           error_code: 'text',
           error_message: 'text',
           detail: 'jsonb',
           action: 'text',
           subject: 'text',
           record: 'text',
         })}
       ), previous AS (
         SELECT i.id, i.status, i.spend_state IN ('reserved', 'committed') AS spend_open, i.spend_minute,
                i.spend_usd_micros, i.valuation, i.value_usd_micros
           FROM intents i WHERE i.id = ANY($3::uuid[]) ORDER BY i.id FOR UPDATE OF i
       ), closing AS (
         SELECT p.*, ${settledUsdSql({
           status: 'v.status',
           txHash: 'v.tx_hash',
           gasUsed: 'v.gas_used',
           effectiveGasPrice: 'v.effective_gas_price',
           valuation: 'p.valuation',
           valueUsd: 'p.value_usd_micros',
         })} AS settled_usd
           FROM previous p JOIN v ON v.id = p.id
       ), moved AS (
         UPDATE intents i SET status = v.status, updated_at = now(), tx_hash = v.tx_hash, block_number = v.block_number,
                gas_used = v.gas_used, effective_gas_price = v.effective_gas_price, raw_tx = NULL,
                error_code = COALESCE(v.error_code, i.error_code), error_message = COALESCE(v.error_message, i.error_message),
                spend_state = CASE WHEN NOT c.spend_open THEN i.spend_state
                                   WHEN c.settled_usd IS NULL THEN 'released' ELSE 'settled' END,
                spend_usd_micros = CASE WHEN c.spend_open THEN COALESCE(c.settled_usd, 0)::bigint
                                        ELSE i.spend_usd_micros END
           FROM v, closing c
          WHERE i.id = v.id AND c.id = v.id AND c.status IN ('signed', 'submitted')
         RETURNING i.id, i.status, i.chain_id, i.tx_hash, i.agent_id, i.api_key_id,
                   c.status AS previous_status, v.detail AS event_detail, v.action, v.subject, v.record, v.ord,
                   c.spend_open, c.spend_minute, i.spend_usd_micros - c.spend_usd_micros AS delta,
                   (CASE WHEN c.settled_usd IS NULL THEN -1 ELSE 0 END)::int AS count_delta
       ), events AS (
         INSERT INTO intent_events (intent_id, from_status, to_status, detail)
         SELECT id, previous_status, status, event_detail FROM moved
       ), audited AS (
         SELECT audit_append($2::timestamptz, 'system:tracker', m.action, m.subject, m.record)
           FROM (SELECT * FROM moved ORDER BY ord) m
       ), closed AS (
         SELECT agent_id, api_key_id, spend_minute, delta, count_delta FROM moved WHERE spend_open
       ), ${adjustBucketsSql('closed')}
       SELECT moved.id, moved.status, moved.chain_id, moved.tx_hash
         FROM moved, (SELECT count(*) FROM audited) a, (SELECT count(*) FROM adjusted) b
        ORDER BY moved.ord`,
        [
          jsonRows(
            batch.map((b) => ({
              id: b.id,
              status: b.status,
              tx_hash: b.txHash,
              block_number: b.blockNumber.toString(),
              gas_used: b.gasUsed.toString(),
              effective_gas_price: b.effectiveGasPrice.toString(),
              error_code: b.error?.error_code ?? null,
              error_message: b.error?.error_message ?? null,
              detail: b.detail,
              action: b.audit.action,
              subject: b.audit.subject,
              record: canonicalRecord(at, b.audit),
            })),
          ),
          at,
          batch.map((b) => b.id),
        ],
      ),
    );
    return rows.map((r) => ({ id: r.id, status: r.status, chainId: Number(r.chain_id), txHash: r.tx_hash }));
  });
}

/** What markSettledBatch returns of each intent it ended (the tracker logs it; the rest stays in Postgres). */
export type SettledIntent = Pick<IntentRecord, 'id' | 'status' | 'chainId' | 'txHash'>;

/**
 * Intents settled from a receipt (`confirmed`, `failed`, `cancelled`, `expired`) in a block at or above `fromBlock`:
 * what a reorganisation from that height may have undone (12-track.ts).
 */
export async function findSettledSince(
  db: Queryable,
  chainId: number,
  fromBlock: bigint,
  limit: number,
): Promise<(IntentRecord & { blockNumber: bigint })[]> {
  const { rows } = await db.query<IntentRow & { block_number: string }>(
    `SELECT ${COLUMNS}, block_number FROM intents
      WHERE chain_id = $1 AND block_number >= $2 AND tx_hash IS NOT NULL
        AND status IN ('confirmed', 'failed', 'cancelled', 'expired')
      ORDER BY block_number LIMIT $3`,
    [chainId, fromBlock.toString(), limit],
  );
  return rows.map((row) => ({ ...toRecord(row), blockNumber: BigInt(row.block_number) }));
}

/**
 * Unsettled intents (`signed` or `submitted`) on a chain, oldest first: those with a transaction in `txHashes` (the
 * current one, or — for intents that were sped up or cancelled — any earlier one, which may be the one mined), or,
 * with `olderThanMs`, those not updated for that long (the tracker's sweep), or, with `status`, only that one.
 */
export async function findInFlight(
  db: Queryable,
  chainId: number,
  options: {
    txHashes?: readonly string[];
    olderThanMs?: number;
    status?: 'signed' | 'submitted';
    /** Leave these out (a sweep's earlier pages). */
    excludeIds?: readonly string[];
    /** Only ids above this one, in id order: a sweep's cursor (ids never change, so a page boundary never moves). */
    afterId?: string;
    limit: number;
  },
): Promise<IntentRecord[]> {
  const params: unknown[] = [chainId, options.status ? [options.status] : ['signed', 'submitted'], options.limit];
  // tx_hash: signature intents end `signed` with no transaction; there is nothing to track (docs/signatures.md).
  let where = 'chain_id = $1 AND status = ANY($2::text[]) AND tx_hash IS NOT NULL';
  if (options.txHashes) {
    params.push(options.txHashes);
    where += ` AND (tx_hash = ANY($${params.length}::text[]) OR (replacements > 0 AND id IN (
      SELECT intent_id FROM intent_transactions WHERE tx_hash = ANY($${params.length}::text[]) AND intent_id IS NOT NULL)))`;
  }
  if (options.excludeIds && options.excludeIds.length > 0) {
    params.push(options.excludeIds);
    where += ` AND NOT (id = ANY($${params.length}::uuid[]))`;
  }
  if (options.olderThanMs !== undefined) {
    params.push(options.olderThanMs);
    where += ` AND updated_at < now() - make_interval(secs => $${params.length}::double precision / 1000)`;
  }
  if (options.afterId !== undefined) {
    params.push(options.afterId);
    where += ` AND id > $${params.length}::uuid`;
  }
  const order = options.afterId !== undefined ? 'id' : 'updated_at';
  const { rows } = await db.query<IntentRow>(
    prepared(`SELECT ${COLUMNS} FROM intents WHERE ${where} ORDER BY ${order} LIMIT $3`, params),
  );
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

/**
 * Store what the intent path learnt about an intent before its decision (05-simulate.ts; new intents get these in the deciding statement): the simulation, a swap's plan,
 * and the deadline after which an unsigned intent expires. Returns the updated intent, or null if it is gone.
 */
export async function recordChainFacts(
  db: Queryable,
  id: string,
  facts: { simulation: SimulationView | null; swap: SwapView | null; deadline: Date | null },
): Promise<IntentRecord | null> {
  return classifiedWrite(async () => {
    const { rows } = await db.query<IntentRow>(
      prepared(
        `UPDATE intents SET simulation = $2::jsonb, swap = $3::jsonb, deadline = $4 WHERE id = $1 RETURNING ${COLUMNS}`,
        [
          id,
          facts.simulation === null ? null : JSON.stringify(facts.simulation),
          facts.swap === null ? null : JSON.stringify(facts.swap),
          facts.deadline,
        ],
      ),
    );
    return rows[0] ? toRecord(rows[0]) : null;
  });
}

/**
 * Store what a decided signature intent asks to be signed and the digest its ticket will bind (intent-path/signature-intents.ts),
 * whatever the decision. Returns the updated intent, or null if it is gone.
 */
export async function recordSigningRequest(
  db: Queryable,
  id: string,
  signing: { request: SigningRequestRecord; digest: string | null },
): Promise<IntentRecord | null> {
  return classifiedWrite(async () => {
    const { rows } = await db.query<IntentRow>(
      prepared(
        `UPDATE intents SET signing_request = $2::jsonb, signing_digest = $3 WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, JSON.stringify(signing.request), signing.digest],
      ),
    );
    return rows[0] ? toRecord(rows[0]) : null;
  });
}

/** Intents still waiting for a human whose deadline has passed, oldest deadline first. */
export async function findPastDeadline(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM intents WHERE deadline IS NOT NULL AND deadline <= now() AND status = 'pending_approval'
      ORDER BY deadline LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

// ── Submission: replacements, nonce holders, deadlines (docs/submission.md) ─────────────────────────────────────────

/**
 * Lock intents for the caller's transaction (FOR UPDATE, in id order) and return them as they are now. The signing
 * lane locks its batch before signing, so a cancellation or deadline sweep — compare-and-set transitions that lock the
 * same rows — either happens before (and the lane skips the intent) or waits for the batch to commit.
 */
export async function lockIntents(client: Queryable, ids: readonly string[]): Promise<Map<string, IntentRecord>> {
  const { rows } = await client.query<IntentRow>(
    prepared(`SELECT ${COLUMNS} FROM intents WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [ids]),
  );
  return new Map(rows.map((r) => [r.id, toRecord(r)]));
}

/**
 * What a signing batch reads under its nonce lock, in one statement: its intents, locked as {@link lockIntents} locks
 * them, and the halts that apply — the kill switch, read FOR SHARE (engaging it updates that row, so an engage and a
 * batch wait for each other: the batch reads the switch as the engage left it; docs/killswitch.md), and which of
 * `scopes` are paused.
 */
export async function lockSigningBatch(
  client: Queryable,
  ids: readonly string[],
  scopes: readonly string[],
): Promise<{ intents: Map<string, IntentRecord>; killSwitch: boolean; paused: string[] }> {
  const { rows } = await client.query<Partial<IntentRow> & { ks_engaged: boolean; ks_paused: string[] }>(
    prepared(
      `WITH ks AS (SELECT engaged FROM killswitch WHERE id FOR SHARE),
            locked AS (SELECT ${COLUMNS} FROM intents WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE)
       SELECT h.ks_engaged, h.ks_paused, l.*
         FROM (SELECT (SELECT engaged FROM ks) AS ks_engaged,
                      ARRAY(SELECT scope FROM pauses WHERE scope = ANY($2::text[])) AS ks_paused) h
         LEFT JOIN locked l ON true`,
      [ids, scopes],
    ),
  );
  const first = rows[0]!;
  return {
    intents: new Map(
      rows.filter((r) => r.id !== null && r.id !== undefined).map((r) => [r.id!, toRecord(r as IntentRow)]),
    ),
    killSwitch: first.ks_engaged,
    paused: first.ks_paused,
  };
}

/** One transaction signed for an intent's nonce (or a filler's). */
export interface TransactionAttempt {
  txHash: string;
  intentId: string | null;
  nonce: number;
  kind: 'original' | 'speedup' | 'cancel' | 'fill';
  route: 'public' | 'private';
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  raw: string;
  createdAt: Date;
}

interface AttemptRow {
  tx_hash: string;
  intent_id: string | null;
  nonce: string;
  kind: TransactionAttempt['kind'];
  route: TransactionAttempt['route'];
  max_fee_per_gas: string;
  max_priority_fee_per_gas: string;
  raw_tx: string;
  created_at: Date;
}

const ATTEMPT_COLUMNS =
  'tx_hash, intent_id, nonce, kind, route, max_fee_per_gas, max_priority_fee_per_gas, raw_tx, created_at';
const toAttempt = (r: AttemptRow): TransactionAttempt => ({
  txHash: r.tx_hash,
  intentId: r.intent_id,
  nonce: Number(r.nonce),
  kind: r.kind,
  route: r.route,
  maxFeePerGas: BigInt(r.max_fee_per_gas),
  maxPriorityFeePerGas: BigInt(r.max_priority_fee_per_gas),
  raw: r.raw_tx,
  createdAt: r.created_at,
});

/** Every transaction signed for an intent, newest first. */
export async function listAttempts(db: Queryable, intentId: string): Promise<TransactionAttempt[]> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT ${ATTEMPT_COLUMNS} FROM intent_transactions WHERE intent_id = $1 ORDER BY created_at DESC, tx_hash`,
    [intentId],
  );
  return rows.map(toAttempt);
}

/** Every transaction signed for (chain, address, nonce), by any intent or filler. */
export async function attemptsAtNonce(
  db: Queryable,
  chainId: number,
  address: string,
  nonce: number,
): Promise<TransactionAttempt[]> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT ${ATTEMPT_COLUMNS} FROM intent_transactions WHERE chain_id = $1 AND from_address = $2 AND nonce = $3 ORDER BY created_at DESC`,
    [chainId, address, nonce],
  );
  return rows.map(toAttempt);
}

export interface ReplacementRow {
  intentId: string;
  kind: 'speedup' | 'cancel';
  /** The transaction it replaces (must still be the intent's current one). */
  replaces: string;
  txHash: string;
  raw: string;
  gasLimit: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  cancelReason: 'agent' | 'operator' | 'deadline' | null;
  actor: AuditEntry['actor'];
}

/**
 * Make a replacement the intent's current transaction: the intent's hash, raw transaction and fees, its count of
 * replacements (and, for a cancellation, why), a row in intent_transactions, a history event and the audit record —
 * one statement. Returns null when the intent is no longer in flight or its current transaction is not `replaces`.
 */
export async function recordReplacement(
  db: Queryable,
  r: ReplacementRow,
  audit: AuditEntry,
): Promise<IntentRecord | null> {
  const call = auditAppendCall(audit, 12);
  return classifiedWrite(async () => {
    const { rows } = await db.query<IntentRow>(
      prepared(
        `WITH moved AS (
         UPDATE intents SET tx_hash = $2, raw_tx = $3, gas_limit = $4, max_fee_per_gas = $5, replacements = replacements + 1,
                cancel_reason = COALESCE($7, cancel_reason), updated_at = now()
          WHERE id = $1 AND status IN ('signed', 'submitted') AND tx_hash = $9
         RETURNING ${COLUMNS}
       ), attempt AS (
         INSERT INTO intent_transactions (tx_hash, intent_id, chain_id, from_address, nonce, kind, route, max_fee_per_gas,
                                          max_priority_fee_per_gas, raw_tx, actor)
         SELECT tx_hash, id, chain_id, from_address, nonce, $8, COALESCE(submit_route, 'public'), $5, $6, raw_tx, $10 FROM moved
       ), event AS (
         INSERT INTO intent_events (intent_id, from_status, to_status, detail)
         SELECT id, status, status, jsonb_build_object('replacement', $8::text, 'txHash', tx_hash, 'replaces', $9::text, 'reason', $11::text) FROM moved
       ), audited AS (SELECT ${call.sql} FROM moved)
       SELECT moved.* FROM moved, (SELECT count(*) FROM audited) a`,
        [
          r.intentId,
          r.txHash,
          r.raw,
          r.gasLimit.toString(),
          r.maxFeePerGas.toString(),
          r.maxPriorityFeePerGas.toString(),
          r.cancelReason,
          r.kind,
          r.replaces,
          r.actor,
          r.cancelReason ?? (r.kind === 'speedup' ? 'speedup' : null),
          ...call.params,
        ],
      ),
    );
    return rows[0] ? toRecord(rows[0]) : null;
  });
}

/** The in-flight intent (`signed` or `submitted`) that holds `nonce` of (chain, address), if any. */
export async function findNonceHolder(
  db: Queryable,
  chainId: number,
  address: string,
  nonce: number,
): Promise<IntentRecord | null> {
  const { rows } = await db.query<IntentRow>(
    prepared(
      `SELECT ${COLUMNS} FROM intents WHERE chain_id = $1 AND from_address = $2 AND nonce = $3 AND status IN ('signed', 'submitted') LIMIT 1`,
      [chainId, address, nonce],
    ),
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/** In-flight intents on a chain past their deadline for which no cancellation was signed yet. */
export async function findOverdueInFlight(db: Queryable, chainId: number, limit: number): Promise<IntentRecord[]> {
  const { rows } = await db.query<IntentRow>(
    prepared(
      `SELECT ${COLUMNS} FROM intents
      WHERE chain_id = $1 AND status IN ('signed', 'submitted') AND deadline IS NOT NULL AND deadline <= now() AND cancel_reason IS NULL
      ORDER BY deadline LIMIT $2`,
      [chainId, limit],
    ),
  );
  return rows.map(toRecord);
}

/** What operators filter every agent's intents by (GET /admin/intents). Amounts in base units; USD in micro-USD. */
export interface IntentFilter {
  agentId?: string;
  status?: IntentStatus;
  chainId?: number;
  since?: Date;
  until?: Date;
  minAmount?: bigint;
  maxAmount?: bigint;
  minUsdMicros?: bigint;
  maxUsdMicros?: bigint;
  limit: number;
  after?: ListCursor;
}

/** Every agent's intents, newest first, filtered; keyset-paginated on (created_at, id) like the agent's own list. */
export async function listIntents(
  db: Queryable,
  filter: IntentFilter,
): Promise<{ items: IntentRecord[]; next: ListCursor | null }> {
  const c = new SqlConditions();
  if (filter.agentId) c.add('agent_id = ?::uuid', filter.agentId);
  if (filter.status) c.add('status = ?', filter.status);
  if (filter.chainId !== undefined) c.add('chain_id = ?', filter.chainId);
  if (filter.since) c.add('created_at >= ?', filter.since);
  if (filter.until) c.add('created_at < ?', filter.until);
  if (filter.minAmount !== undefined) c.add('amount >= ?::numeric', filter.minAmount.toString());
  if (filter.maxAmount !== undefined) c.add('amount <= ?::numeric', filter.maxAmount.toString());
  if (filter.minUsdMicros !== undefined) c.add('value_usd_micros >= ?::bigint', filter.minUsdMicros.toString());
  if (filter.maxUsdMicros !== undefined) c.add('value_usd_micros <= ?::bigint', filter.maxUsdMicros.toString());
  if (filter.after) c.add('(created_at, id) < (?::timestamptz, ?::uuid)', filter.after.createdAt, filter.after.id);
  const { rows } = await db.query<IntentRow>(
    `SELECT ${COLUMNS} FROM intents ${c.where()}
      ORDER BY created_at DESC, id DESC LIMIT ${c.param(filter.limit + 1)}`,
    c.params,
  );
  const items = rows.slice(0, filter.limit).map(toRecord);
  const last = items[items.length - 1];
  const next = rows.length > filter.limit && last ? { createdAt: last.createdAt.toISOString(), id: last.id } : null;
  return { items, next };
}

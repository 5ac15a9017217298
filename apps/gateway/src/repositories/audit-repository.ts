import { createHash } from 'node:crypto';
import type pg from 'pg';
import { classifiedWrite } from '../db/errors.ts';
import { jsonRows, jsonRowsSql, prepared } from '../db/pool.ts';
import { SqlConditions } from '../db/sql-conditions.ts';
import type { AuditFinding, AuditFindingKind } from '../domain/audit-findings.ts';
import { canonicalJson } from '../lib/canonical-json.ts';

/** Who did it: `agent:<uuid>`, `user:<uuid>`, or `system:<component>`. */
export type Actor = `agent:${string}` | `user:${string}` | `system:${string}`;

export interface AuditEntry {
  actor: Actor;
  /** Dotted verb, e.g. `intent.decided`, `intent.signed`. */
  action: string;
  /** What it is about, e.g. `intent:<uuid>`. */
  subject: string | null;
  /** JSON-safe detail: strings, numbers that fit in 2^53, booleans, null, arrays, objects. No secrets. */
  data: Record<string, unknown>;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

const GENESIS = '0'.repeat(64);

export function canonicalRecord(at: string, entry: AuditEntry): string {
  return canonicalJson({ at, actor: entry.actor, action: entry.action, subject: entry.subject, data: entry.data });
}

/** The columns of {@link auditRows}, for jsonRowsSql. */
export const AUDIT_ROW_COLUMNS = { actor: 'text', action: 'text', subject: 'text', record: 'text' } as const;

/** Audit records as one jsonRows parameter (read with `jsonRowsSql(n, alias, AUDIT_ROW_COLUMNS)`), in order. */
export function auditRows(at: string, entries: readonly AuditEntry[]): string {
  return jsonRows(
    entries.map((e) => ({ actor: e.actor, action: e.action, subject: e.subject, record: canonicalRecord(at, e) })),
  );
}

/**
 * A call to `audit_append` for use inside a larger statement (a CTE that changes state and audits it in one round
 * trip), with its parameters numbered from `firstParam`.
 */
export function auditAppendCall(
  entry: AuditEntry,
  firstParam: number,
  at: Date = new Date(),
): { sql: string; params: unknown[] } {
  const iso = at.toISOString();
  const n = firstParam;
  return {
    sql: `audit_append($${n}::timestamptz, $${n + 1}::text, $${n + 2}::text, $${n + 3}::text, $${n + 4}::text)`,
    params: [iso, entry.actor, entry.action, entry.subject, canonicalRecord(iso, entry)],
  };
}

/**
 * Append one record inside the caller's transaction (must-succeed audit). The record is chained into audit_log as
 * the transaction commits (see migrations/0001_init.sql); if that fails, the COMMIT fails and the state change it
 * describes does not happen. Outside a transaction the statement is its own transaction.
 */
export async function appendAudit(client: Queryable, entry: AuditEntry, at: Date = new Date()): Promise<void> {
  await appendAuditBatch(client, [entry], at);
}

/** Append several records in one round trip, in order, inside the caller's transaction. */
export async function appendAuditBatch(
  client: Queryable,
  entries: readonly AuditEntry[],
  at: Date = new Date(),
): Promise<void> {
  const iso = at.toISOString();
  return classifiedWrite(async () => {
    await client.query(
      prepared(
        `SELECT audit_append($1::timestamptz, t.actor, t.action, t.subject, t.record)
         FROM ${jsonRowsSql(2, 't', AUDIT_ROW_COLUMNS)}
        ORDER BY t.ord`,
        [iso, auditRows(iso, entries)],
      ),
    );
  });
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Rows read. */
  rows: number;
  /** The first finding, as `{seq, reason}` (kept for callers that want one line). */
  firstBroken: { seq: number; reason: string } | null;
  /** Every finding, in chain order (at most `maxFindings`). */
  findings: AuditFinding[];
  /** Hash of the last row read (the genesis value, 64 zeros, for an empty chain). */
  headHash: string;
  /** Highest seq present (0 for an empty chain). */
  lastSeq: number;
  /** Stored hash of each row asked for in `hashesAt` that exists. */
  hashes: Map<number, string>;
}

export interface VerifyAuditChainOptions {
  pageSize?: number;
  /** Start after a trusted head (a verified checkpoint): rows up to `count` are not read. */
  from?: { count: number; head: string };
  /** Stop after this seq (rows appended meanwhile are left for the next run). */
  upTo?: number;
  /** Remember the stored hash of these rows (checkpoint counts). */
  hashesAt?: ReadonlySet<number>;
  /** Stop collecting after this many findings (default 100). */
  maxFindings?: number;
}

const HASHED_COLUMNS = ['at', 'actor', 'action', 'subject'] as const;

/** An audit_log row as read (seq is bigint: text from pg). */
export interface AuditRow {
  seq: string;
  at: Date;
  actor: string;
  action: string;
  subject: string | null;
  record: string;
  prev_hash: string;
  hash: string;
}

/**
 * Walk the chain in order and name everything that does not verify, row by row: a gap in sequence numbers
 * (`row_missing`: rows deleted), a prev_hash that is not the previous row's hash (`link_broken`), a hash that is not
 * sha256(prev_hash || record) (`hash_mismatch`: the record was edited — any of at, actor, action, subject, data — or
 * the hash), a record that is not JSON (`record_malformed`), and query columns that differ from the record they were
 * copied from (`column_mismatch`, naming the column). The walk goes on after a finding, re-anchored on the row as
 * stored, so one deletion is one finding and later edits are still named. Streams in pages.
 */
export async function verifyAuditChain(
  pool: Queryable,
  options: VerifyAuditChainOptions | number = {},
): Promise<AuditVerifyResult> {
  const opts: VerifyAuditChainOptions = typeof options === 'number' ? { pageSize: options } : options;
  const pageSize = opts.pageSize ?? 5_000;
  const maxFindings = opts.maxFindings ?? 100;
  const upTo = opts.upTo ?? Number.MAX_SAFE_INTEGER;
  const findings: AuditFinding[] = [];
  const hashes = new Map<number, string>();
  let expectedSeq = (opts.from?.count ?? 0) + 1;
  let prevHash = opts.from?.head ?? GENESIS;
  let lastSeq = opts.from?.count ?? 0;
  let afterSeq = lastSeq;
  let count = 0;
  const found = (kind: AuditFindingKind, seq: number, detail: string): void => {
    if (findings.length < maxFindings) findings.push({ kind, seq, detail });
  };
  for (;;) {
    const { rows } = await pool.query<AuditRow>(
      'SELECT seq, at, actor, action, subject, record, prev_hash, hash FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3',
      [afterSeq, upTo, pageSize],
    );
    if (rows.length === 0) break;
    for (const row of rows) {
      const seq = Number(row.seq);
      const gap = seq > expectedSeq;
      if (gap)
        found(
          'row_missing',
          expectedSeq,
          seq - expectedSeq === 1 ? `row ${expectedSeq} is missing` : `rows ${expectedSeq} to ${seq - 1} are missing`,
        );
      // A gap already explains a link to a row that is gone.
      if (!gap && row.prev_hash !== prevHash) found('link_broken', seq, 'prev_hash does not match the previous row');
      const hash = createHash('sha256')
        .update(row.prev_hash + row.record, 'utf8')
        .digest('hex');
      if (hash !== row.hash) found('hash_mismatch', seq, 'hash does not match the record');
      let record: Record<string, unknown> | null = null;
      try {
        const parsed = JSON.parse(row.record) as unknown;
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
          record = parsed as Record<string, unknown>;
      } catch {
        // named below
      }
      if (record === null) {
        found('record_malformed', seq, 'record is not a JSON object');
      } else {
        const columns = { at: row.at.toISOString(), actor: row.actor, action: row.action, subject: row.subject };
        for (const name of HASHED_COLUMNS) {
          if (record[name] !== columns[name])
            found('column_mismatch', seq, `column ${name} differs from the hashed record`);
        }
      }
      if (opts.hashesAt?.has(seq)) hashes.set(seq, row.hash);
      prevHash = row.hash;
      expectedSeq = seq + 1;
      lastSeq = seq;
      afterSeq = seq;
      count += 1;
    }
  }
  const first = findings[0];
  return {
    ok: findings.length === 0,
    rows: count,
    firstBroken: first ? { seq: first.seq, reason: first.detail } : null,
    findings,
    headHash: prevHash,
    lastSeq,
    hashes,
  };
}

/** The chain's head: its highest seq and that row's hash; null for an empty chain. */
export async function readAuditHead(pool: Queryable): Promise<{ count: number; head: string } | null> {
  const { rows } = await pool.query<{ seq: string; hash: string }>(
    'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
  );
  return rows[0] ? { count: Number(rows[0].seq), head: rows[0].hash } : null;
}

export interface StoredCheckpoint {
  count: number;
  head: string;
  signedAt: Date;
  jws: string;
}

/** Keep a copy of a signed checkpoint (the signer keeps the original); a second copy of one count is ignored. */
export async function insertAuditCheckpoint(pool: Queryable, checkpoint: StoredCheckpoint): Promise<void> {
  await pool.query(
    'INSERT INTO audit_checkpoints (count, head, signed_at, jws) VALUES ($1, $2, $3, $4) ON CONFLICT (count) DO NOTHING',
    [checkpoint.count, checkpoint.head, checkpoint.signedAt, checkpoint.jws],
  );
}

/** Every checkpoint copy in Postgres, oldest first. Their columns are not trusted: the verifier reads the JWS. */
export async function listAuditCheckpoints(pool: Queryable): Promise<StoredCheckpoint[]> {
  const { rows } = await pool.query<{ count: string; head: string; signed_at: Date; jws: string }>(
    'SELECT count, head, signed_at, jws FROM audit_checkpoints ORDER BY count',
  );
  return rows.map((r) => ({ count: Number(r.count), head: r.head, signedAt: r.signed_at, jws: r.jws }));
}

/** One audit record as operators read it. */
export interface AuditRecordView {
  seq: number;
  at: Date;
  actor: string;
  action: string;
  subject: string | null;
  data: unknown;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  subject?: string;
  /** A subject prefix such as `intent:` (matched with LIKE, escaped). */
  subjectPrefix?: string;
  action?: string;
  actor?: string;
  since?: Date;
  until?: Date;
  /** Keyset: records with a smaller seq. */
  beforeSeq?: number;
  limit: number;
}

/** Audit records, newest first, filtered. `data` is the hashed record's, as stored. */
export async function listAuditRecords(db: Queryable, filter: AuditFilter): Promise<AuditRecordView[]> {
  const c = new SqlConditions();
  if (filter.subject) c.add('subject = ?', filter.subject);
  if (filter.subjectPrefix) c.add(`subject LIKE ? ESCAPE '\\'`, `${filter.subjectPrefix.replace(/[\\%_]/g, '\\$&')}%`);
  if (filter.action) c.add('action = ?', filter.action);
  if (filter.actor) c.add('actor = ?', filter.actor);
  if (filter.since) c.add('at >= ?', filter.since);
  if (filter.until) c.add('at < ?', filter.until);
  if (filter.beforeSeq !== undefined) c.add('seq < ?', filter.beforeSeq);
  const { rows } = await db.query<AuditRow>(
    `SELECT seq, at, actor, action, subject, record, prev_hash, hash FROM audit_log ${c.where()}
      ORDER BY seq DESC LIMIT ${c.param(filter.limit)}`,
    c.params,
  );
  return rows.map((r) => {
    let data: unknown = null;
    try {
      data = (JSON.parse(r.record) as { data?: unknown }).data ?? null;
    } catch {
      // a malformed record: the segment verification names it
    }
    return {
      seq: Number(r.seq),
      at: r.at,
      actor: r.actor,
      action: r.action,
      subject: r.subject,
      data,
      prevHash: r.prev_hash,
      hash: r.hash,
    };
  });
}

/** The stored prev_hash of row `seq` (the anchor of a segment that starts there), or null when the row is missing. */
export async function auditPrevHashAt(db: Queryable, seq: number): Promise<string | null> {
  const { rows } = await db.query<{ prev_hash: string }>('SELECT prev_hash FROM audit_log WHERE seq = $1', [seq]);
  return rows[0]?.prev_hash ?? null;
}

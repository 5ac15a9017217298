import { createHash } from 'node:crypto';
import type pg from 'pg';
import { classifyWriteError } from '../db/errors.ts';
import { prepared } from '../db/pool.ts';
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

function canonicalRecord(at: string, entry: AuditEntry): string {
  return canonicalJson({ at, actor: entry.actor, action: entry.action, subject: entry.subject, data: entry.data });
}

/**
 * A call to `audit_append` for use inside a larger statement (a CTE that changes state and audits it in one round
 * trip), with its parameters numbered from `firstParam`.
 */
export function auditAppendCall(entry: AuditEntry, firstParam: number, at: Date = new Date()): { sql: string; params: unknown[] } {
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
export async function appendAuditBatch(client: Queryable, entries: readonly AuditEntry[], at: Date = new Date()): Promise<void> {
  const iso = at.toISOString();
  try {
    await client.query(prepared(
      `SELECT audit_append($1::timestamptz, t.actor, t.action, t.subject, t.record)
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(actor, action, subject, record, ord)
        ORDER BY t.ord`,
      [
        iso,
        entries.map((e) => e.actor),
        entries.map((e) => e.action),
        entries.map((e) => e.subject),
        entries.map((e) => canonicalRecord(iso, e)),
      ],
    ));
  } catch (cause) {
    throw classifyWriteError(cause);
  }
}

export interface AuditVerifyResult {
  ok: boolean;
  rows: number;
  /** The first row that does not verify, and why. */
  firstBroken: { seq: number; reason: string } | null;
  headHash: string;
}

/**
 * Walk the whole chain in order and name the first row that does not verify: a gap in sequence numbers, a
 * prev_hash that is not the previous row's hash, a hash that is not sha256(prev_hash || record), or query columns
 * that differ from the record they were copied from. Streams in pages so it works on large logs.
 */
export async function verifyAuditChain(pool: pg.Pool, pageSize = 5_000): Promise<AuditVerifyResult> {
  let expectedSeq = 1;
  let prevHash = GENESIS;
  let count = 0;
  for (;;) {
    const { rows } = await pool.query<{
      seq: string; at: Date; actor: string; action: string; subject: string | null; record: string; prev_hash: string; hash: string;
    }>(
      'SELECT seq, at, actor, action, subject, record, prev_hash, hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2',
      [expectedSeq, pageSize],
    );
    if (rows.length === 0) break;
    for (const row of rows) {
      const seq = Number(row.seq);
      const broken = (reason: string): AuditVerifyResult => ({ ok: false, rows: count, firstBroken: { seq, reason }, headHash: prevHash });
      if (seq !== expectedSeq) return { ok: false, rows: count, firstBroken: { seq: expectedSeq, reason: `row ${expectedSeq} is missing` }, headHash: prevHash };
      if (row.prev_hash !== prevHash) return broken('prev_hash does not match the previous row');
      const hash = createHash('sha256').update(prevHash + row.record, 'utf8').digest('hex');
      if (hash !== row.hash) return broken('hash does not match the record');
      let record: { at?: unknown; actor?: unknown; action?: unknown; subject?: unknown };
      try {
        record = JSON.parse(row.record) as typeof record;
      } catch {
        return broken('record is not JSON');
      }
      if (record.at !== row.at.toISOString() || record.actor !== row.actor || record.action !== row.action || record.subject !== row.subject) {
        return broken('columns differ from the hashed record');
      }
      prevHash = row.hash;
      expectedSeq += 1;
      count += 1;
    }
  }
  return { ok: true, rows: count, firstBroken: null, headHash: prevHash };
}

import { createHash } from 'node:crypto';
import type pg from 'pg';
import { Clawd402Error, type IntentBody } from '@clawd402/protocol';
import type { IntentRecord } from '../domain/intent.ts';
import { canonicalJson } from '../lib/canonical-json.ts';
import { findByIdempotencyKey } from '../repositories/intents-repository.ts';

/** The sha256 of the request's canonical JSON (RFC 8785): two retries of one request hash alike. */
export function requestHashOf(body: IntentBody): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/**
 * The intent an earlier request with this Idempotency-Key made, or null. The same key with another body is refused
 * (`idempotency_key_reused`): a retry must be the same request.
 */
export async function findRetried(
  pool: pg.Pool,
  agentId: string,
  idempotencyKey: string | null,
  requestHash: string,
): Promise<IntentRecord | null> {
  if (idempotencyKey === null) return null;
  const existing = await findByIdempotencyKey(pool, agentId, idempotencyKey);
  return existing === null ? null : assertSameRequest(existing, requestHash);
}

/**
 * The decision lane recorded nothing because a concurrent request with the same key won the insert: answer with the
 * winner's intent.
 */
export async function winnerOfRace(
  pool: pg.Pool,
  agentId: string,
  idempotencyKey: string | null,
  requestHash: string,
): Promise<IntentRecord> {
  const existing = idempotencyKey === null ? null : await findRetried(pool, agentId, idempotencyKey, requestHash);
  if (!existing) throw new Error('idempotent insert conflicted but no intent was found');
  return existing;
}

function assertSameRequest(existing: IntentRecord, requestHash: string): IntentRecord {
  if (existing.requestHash !== requestHash) {
    throw new Clawd402Error('idempotency_key_reused', undefined, { details: { intentId: existing.id } });
  }
  return existing;
}

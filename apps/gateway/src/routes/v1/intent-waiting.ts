import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { Clawd402Error } from '@clawd402/protocol';
import type { IntentRecord } from '../../services/intents-service.ts';
import { isUuid } from '../../lib/uuid.ts';

/** Statuses an intent never leaves (a signature intent's `signed` is final too: see {@link isSettled}). */
const FINAL = new Set(['rejected', 'confirmed', 'failed', 'dropped', 'replaced', 'cancelled', 'expired']);

/** The intent will change no more: a final status, or a signature intent that is signed. */
export function isSettled(intent: Pick<IntentRecord, 'status' | 'signing'>): boolean {
  return FINAL.has(intent.status) || (intent.status === 'signed' && intent.signing !== null);
}

/** `?ids=`: up to 100 comma-separated intent ids (the schema bounds the text; {@link parseIds} checks each). */
export const IdsQuery = Type.String({ pattern: '^[0-9A-Fa-f-]{36}(?:,[0-9A-Fa-f-]{36}){0,99}$', maxLength: 3_700 });

/** `?ids=a,b,c` as a list of distinct lower-case UUIDs, or `invalid_request`. */
export function parseIds(text: string): string[] {
  const ids = [...new Set(text.split(',').map((id) => id.toLowerCase()))];
  if (!ids.every(isUuid)) {
    throw new Clawd402Error('invalid_request', 'ids must be intent ids (UUIDs), comma-separated.', {
      details: { location: 'querystring', field: 'ids' },
    });
  }
  return ids;
}

/** Aborts when the gateway starts closing or the client goes away. */
export function waitSignal(request: FastifyRequest, closing: AbortSignal): AbortSignal {
  const gone = new AbortController();
  request.raw.once('close', () => gone.abort());
  return AbortSignal.any([closing, gone.signal]);
}

/** What one SSE `intent` event carries: enough to act on without reading the intent again. */
export function intentEvent(intent: IntentRecord): Record<string, unknown> {
  const decision = intent.decision;
  return {
    id: intent.id,
    status: intent.status,
    settled: isSettled(intent),
    txHash: intent.txHash,
    decision: decision
      ? { action: decision.action, policy: decision.policy, reasons: decision.reasons.map((r) => r.code) }
      : null,
    error: intent.error ? intent.error.code : null,
    updatedAt: intent.updatedAt.toISOString(),
  };
}

import {
  API_ERRORS,
  Clawd402Error,
  RPC_ERRORS,
  isApiErrorCode,
  type ApiErrorCode,
  type RpcErrorCode,
} from '@clawd402/protocol';
import type { IntentRecord } from '../domain/intent.ts';

/** A JSON-RPC 2.0 error object. `data.code` is always one of our stable string codes (docs/json-rpc.md). */
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** Thrown inside a method handler: the element answers with exactly this error. */
export class RpcFailure extends Error {
  constructor(readonly error: JsonRpcErrorObject) {
    super(error.message);
    this.name = 'RpcFailure';
  }
}

/** One of the endpoint's own refusals (RPC_ERRORS), with safe machine-readable details. */
export function rpcFailure(code: RpcErrorCode, message?: string, details?: Record<string, unknown>): RpcFailure {
  const entry = RPC_ERRORS[code];
  return new RpcFailure({ code: entry.rpc, message: message ?? entry.message, data: { code, ...details } });
}

/** Catalogue codes answered with a more specific number than their HTTP status gives (docs/json-rpc.md). */
const API_CODE_NUMBERS: Partial<Record<ApiErrorCode, number>> = {
  invalid_json: -32700,
  json_duplicate_key: -32700,
  json_too_deep: -32700,
  policy_denied: -32003,
  approval_rejected: -32003,
  not_found: -32001,
  rate_limited: -32005,
  rate_limit_blocked: -32005,
};

/**
 * The JSON-RPC number for a catalogue code: parse errors -32700; policy denial -32003 (EIP-1474 "transaction
 * rejected"); a 400 -32602 (invalid params); 401/403 4100 (EIP-1193 "unauthorized"); 404 -32001; 429 -32005; any
 * other 4xx -32000; 503 -32002 (resource unavailable, retry later); any other 5xx -32603 (internal error).
 */
export function rpcNumberOf(code: ApiErrorCode): number {
  const specific = API_CODE_NUMBERS[code];
  if (specific !== undefined) return specific;
  const status = API_ERRORS[code].status;
  if (status === 400 || status === 413 || status === 415) return -32602;
  if (status === 401 || status === 403) return 4100;
  if (status === 404) return -32001;
  if (status === 429) return -32005;
  if (status === 503) return -32002;
  if (status >= 500) return -32603;
  return -32000;
}

/** Anything a method handler threw, as the element's JSON-RPC error. 5xx answer the catalogue's generic sentence. */
export function toRpcError(error: unknown): JsonRpcErrorObject {
  if (error instanceof RpcFailure) return error.error;
  const api = error instanceof Clawd402Error ? error : new Clawd402Error('internal_error', undefined, { cause: error });
  const status = API_ERRORS[api.code].status;
  const message = status >= 500 ? API_ERRORS[api.code].message : api.message;
  return {
    code: rpcNumberOf(api.code),
    message,
    data: { code: api.code, ...(status < 500 && api.details ? { details: api.details } : {}) },
  };
}

/** Where an agent waits for an intent's next status (GET /v1/intents/:id?wait=, at most 60 s a call). */
export function waitUrlOf(intentId: string): string {
  return `/v1/intents/${intentId}?wait=60`;
}

/**
 * An intent that did not end where the method answers (a hash or a signature) as the element's error: a denial with
 * the same code, reasons and decision (with `decision.money`) as REST's 403; a wait for a human or a broadcast with
 * the intent id, its status and where to wait; a failure with its own code. Null when the intent is not an error.
 */
export function intentFailure(intent: IntentRecord): RpcFailure | null {
  const reasons = intent.decision?.reasons ?? [];
  const about = { intentId: intent.id, status: intent.status, reasons, decision: intent.decision };
  switch (intent.status) {
    case 'rejected':
      return new RpcFailure({
        code: rpcNumberOf('policy_denied'),
        message: API_ERRORS.policy_denied.message,
        data: { code: 'policy_denied', ...about },
      });
    case 'pending_approval':
      return rpcFailure('intent_pending_approval', undefined, { ...about, wait: waitUrlOf(intent.id) });
    case 'failed': {
      if (intent.error === null) break;
      const code = isApiErrorCode(intent.error.code) ? intent.error.code : 'internal_error';
      const status = API_ERRORS[code].status;
      return new RpcFailure({
        code: rpcNumberOf(code),
        message: status >= 500 ? API_ERRORS[code].message : intent.error.message,
        data: { code, ...about },
      });
    }
    default:
      break;
  }
  return null;
}

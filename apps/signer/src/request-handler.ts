import {
  SIGNER_ERRORS,
  SIGNER_METHODS,
  SignerError,
  fromWireTransaction,
  type SignTransactionResult,
  type SignerErrorCode,
  type SignerMethod,
  type SignerResponse,
  type StatusResult,
  type WireTransaction,
} from '@clawd402/protocol';
import { keccak256, type TransactionSerializableEIP1559 } from 'viem';
import type { Logger } from 'pino';
import type { SigningKey } from './signing-key.ts';
import type { TicketJournal } from './ticket-journal.ts';
import type { TicketVerifier } from './ticket-verifier.ts';

const MAX_ID_CHARS = 128;
const ENVELOPE_NAMES = new Set(['v', 'id', 'method', 'params']);

export interface RequestHandlerDeps {
  keys: readonly SigningKey[];
  chains: readonly number[];
  verifier: TicketVerifier<SigningKey>;
  journal: TicketJournal;
  logger: Logger;
}

/** The answer to one frame; `close` says the connection must be closed after it is sent. */
export interface HandledFrame {
  response: SignerResponse;
  close: boolean;
}

/** Error response with the catalogue sentence: never an exception's own message. */
export function errorResponse(id: string | null, code: SignerErrorCode): SignerResponse {
  return { v: 1, id, error: { code, message: SIGNER_ERRORS[code] } };
}

/**
 * Turns one decoded frame into one response. The envelope must be `{v: 1, id, method, params?}`; one that is not is
 * `malformed_frame` and closes the connection. Unknown methods and bad params are answered and the connection stays.
 */
export function createRequestHandler(
  deps: RequestHandlerDeps,
): (frame: Record<string, unknown>) => HandledFrame | Promise<HandledFrame> {
  const status: StatusResult = { keys: deps.keys.map((k) => k.info()), chains: [...deps.chains] };

  async function signTransaction(params: unknown): Promise<SignTransactionResult> {
    const { ticket, tx } = parseSignParams(params);
    const { claims, key } = await deps.verifier.verify(ticket, tx);
    // Check-and-record in one synchronous step: two requests carrying one ticket cannot both get past here.
    if (!deps.journal.claim(claims.jti, claims.exp)) throw new SignerError('ticket_reused');
    const raw = await key.signTransaction(tx);
    const hash = keccak256(raw);
    deps.logger.info({ jti: claims.jti, iid: claims.iid, cid: claims.cid, from: key.address, hash }, 'signed');
    return { raw, hash, from: key.address };
  }

  async function dispatch(id: string, method: SignerMethod, params: unknown): Promise<HandledFrame> {
    try {
      const result = method === 'status' ? statusResult(params, status) : await signTransaction(params);
      return { response: { v: 1, id, result }, close: false };
    } catch (error) {
      if (error instanceof SignerError) {
        deps.logger.info({ id, method, code: error.code }, 'refused');
        return { response: errorResponse(id, error.code), close: false };
      }
      // Unexpected: answer with the fixed sentence, log only the error's class (messages may quote inputs).
      deps.logger.error({ id, method, errorName: error instanceof Error ? error.name : typeof error }, 'internal error');
      return { response: errorResponse(id, 'signer_internal'), close: false };
    }
  }

  // Envelope checks answer synchronously, so the connection stops reading at a bad frame before the next is handled.
  return function handle(frame) {
    const { v, id, method, params } = frame;
    if (
      v !== 1 ||
      typeof id !== 'string' ||
      id.length === 0 ||
      id.length > MAX_ID_CHARS ||
      typeof method !== 'string' ||
      Object.keys(frame).some((name) => !ENVELOPE_NAMES.has(name))
    ) {
      return { response: errorResponse(typeof id === 'string' && id.length <= MAX_ID_CHARS ? id : null, 'malformed_frame'), close: true };
    }
    if (!(SIGNER_METHODS as readonly string[]).includes(method)) {
      deps.logger.info({ id, code: 'unknown_method' }, 'refused');
      return { response: errorResponse(id, 'unknown_method'), close: false };
    }
    return dispatch(id, method as SignerMethod, params);
  };
}

function statusResult(params: unknown, status: StatusResult): StatusResult {
  if (params !== undefined && !(isPlainObject(params) && Object.keys(params).length === 0)) {
    throw new SignerError('invalid_params');
  }
  return status;
}

function parseSignParams(params: unknown): { ticket: string; tx: TransactionSerializableEIP1559 } {
  if (!isPlainObject(params)) throw new SignerError('invalid_params');
  const names = Object.keys(params).sort().join(',');
  if (names !== 'ticket,transaction' || typeof params.ticket !== 'string') throw new SignerError('invalid_params');
  let tx: TransactionSerializableEIP1559;
  try {
    tx = fromWireTransaction(params.transaction as WireTransaction);
  } catch {
    throw new SignerError('invalid_params');
  }
  return { ticket: params.ticket, tx };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

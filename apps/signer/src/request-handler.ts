import {
  SIGNER_ERRORS,
  SIGNER_METHODS,
  SignerError,
  fromWireTransaction,
  messageDigest,
  transactionDigest,
  typedDataDigest,
  type KeyListing,
  type ListKeysResult,
  type SignOperation,
  type SignTransactionResult,
  type SignatureResult,
  type SignerErrorCode,
  type SignerMethod,
  type SignerResponse,
  type StatusResult,
  type WireTransaction,
  type WireTypedData,
} from '@clawd402/protocol';
import { keccak256, type Hex, type TransactionSerializableEIP1559 } from 'viem';
import type { Logger } from 'pino';
import type { SignerKey } from './keys/signer-key.ts';
import { checkPolicy, type KeyStanding, type SignFacts, type SignerPolicy } from './policy/signer-policy.ts';
import type { Reservation, SignerJournal } from './signer-journal.ts';
import type { TicketVerifier } from './ticket-verifier.ts';

const MAX_ID_CHARS = 128;
const ENVELOPE_NAMES = new Set(['v', 'id', 'method', 'params']);
const MESSAGE_HEX = /^0x(?:[0-9a-fA-F]{2})*$/;

/** What the signer knows about a key beyond its secret: metadata from the key directory. */
export interface KeyMetadata extends KeyStanding {
  /** The key whose rolling-day window this one is charged to: the first of its rotation lineage. */
  capKey: string;
  label: string | null;
  agent: string | null;
  created: string | null;
  rotatedTo: string | null;
  rotatedFrom: string | null;
}

export interface RequestHandlerDeps {
  keys: readonly SignerKey[];
  chains: readonly number[];
  verifier: TicketVerifier<SignerKey>;
  journal: SignerJournal;
  /** The signer's own policy; null when none is configured (development only). */
  policy: () => SignerPolicy | null;
  metadata: (key: SignerKey) => KeyMetadata;
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
 *
 * Every signing method runs the same steps: parse the payload and hash it (the signer's own digest) → verify the
 * ticket against it → the signer's policy for the key (operation, chain, per-transaction cap, cancel-only) → spend
 * the ticket and reserve the worst-case value against the rolling-day cap in one synchronous step → wait until that
 * is on disk → sign. If signing fails (a device declined), the reservation is given back; the ticket stays spent.
 */
export function createRequestHandler(deps: RequestHandlerDeps): (frame: Record<string, unknown>) => HandledFrame | Promise<HandledFrame> {
  const status: StatusResult = { keys: deps.keys.map((k) => k.info()), chains: [...deps.chains] };

  async function authorizeAndSign<T>(
    ticket: string,
    payload: { operation: SignOperation; chainId: number | null; digest: Hex; facts: Omit<SignFacts, 'operation' | 'chainId'> },
    sign: (key: SignerKey) => Promise<T>,
  ): Promise<{ key: SignerKey; result: T; jti: string; iid: string; cid: number }> {
    const { claims, key } = await deps.verifier.verify(ticket, payload);
    const meta = deps.metadata(key);
    const entry = checkPolicy(deps.policy(), key.id, meta, { operation: payload.operation, chainId: claims.cid, ...payload.facts });
    // Check-and-record in one synchronous step: two requests with one ticket, or two that only fit the day's cap
    // one at a time, cannot both get past here.
    const reservation: Reservation = deps.journal.reserve({
      jti: claims.jti,
      exp: claims.exp,
      capKey: meta.capKey,
      usageKey: key.id,
      operation: payload.operation,
      amount: payload.facts.amount,
      dayCap: entry?.maxValuePerDay ?? null,
    });
    await deps.journal.durable();
    let result: T;
    try {
      result = await sign(key);
    } catch (error) {
      deps.journal.release(reservation);
      throw error;
    }
    return { key, result, jti: claims.jti, iid: claims.iid, cid: claims.cid };
  }

  async function signTransaction(params: unknown): Promise<SignTransactionResult> {
    const { ticket, tx } = parseSignTransactionParams(params);
    const digest = transactionDigest(tx);
    const amount = tx.value! + tx.gas! * tx.maxFeePerGas!;
    const { key, result: raw, jti, iid, cid } = await authorizeAndSign(
      ticket,
      { operation: 'transaction', chainId: tx.chainId, digest, facts: { amount, transaction: { to: tx.to!, value: tx.value!, data: tx.data ?? '0x' } } },
      (k) => k.signTransaction(tx, digest),
    );
    const hash = keccak256(raw);
    deps.logger.info({ jti, iid, cid, from: key.address, hash, op: 'transaction' }, 'signed');
    return { raw, hash, from: key.address };
  }

  async function signTypedData(params: unknown): Promise<SignatureResult> {
    const { ticket, typedData, digest, chainId } = parseSignTypedDataParams(params);
    const { key, result: signature, jti, iid, cid } = await authorizeAndSign(
      ticket,
      { operation: 'typed_data', chainId, digest, facts: { amount: 0n } },
      (k) => k.signTypedData(typedData, digest),
    );
    deps.logger.info({ jti, iid, cid, from: key.address, digest, op: 'typed_data' }, 'signed');
    return { signature, digest, from: key.address };
  }

  async function signMessage(params: unknown): Promise<SignatureResult> {
    const { ticket, message } = parseSignMessageParams(params);
    const digest = messageDigest(message);
    const { key, result: signature, jti, iid, cid } = await authorizeAndSign(
      ticket,
      { operation: 'personal_sign', chainId: null, digest, facts: { amount: 0n } },
      (k) => k.signMessage(message, digest),
    );
    deps.logger.info({ jti, iid, cid, from: key.address, digest, op: 'personal_sign' }, 'signed');
    return { signature, digest, from: key.address };
  }

  function listKeys(params: unknown): ListKeysResult {
    assertNoParams(params);
    const keys: KeyListing[] = deps.keys.map((key) => {
      const meta = deps.metadata(key);
      const usage = deps.journal.usage(key.id);
      return {
        id: key.id,
        address: key.address,
        backend: key.backend,
        state: meta.state,
        label: meta.label,
        agent: meta.agent,
        path: key.path,
        created: meta.created,
        rotatedTo: meta.rotatedTo,
        rotatedFrom: meta.rotatedFrom,
        usage: {
          transaction: usage.transaction,
          typed_data: usage.typed_data,
          personal_sign: usage.personal_sign,
          lastUsed: usage.lastUsed === null ? null : new Date(usage.lastUsed).toISOString(),
        },
        spentLastDay: deps.journal.spentLastDay(meta.capKey).toString(),
      };
    });
    return { keys };
  }

  async function run(method: SignerMethod, params: unknown): Promise<unknown> {
    switch (method) {
      case 'status':
        assertNoParams(params);
        return status;
      case 'list_keys':
        return listKeys(params);
      case 'sign_transaction':
        return signTransaction(params);
      case 'sign_typed_data':
        return signTypedData(params);
      case 'sign_message':
        return signMessage(params);
    }
  }

  async function dispatch(id: string, method: SignerMethod, params: unknown): Promise<HandledFrame> {
    try {
      const result = await run(method, params);
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

function assertNoParams(params: unknown): void {
  if (params !== undefined && !(isPlainObject(params) && Object.keys(params).length === 0)) {
    throw new SignerError('invalid_params');
  }
}

function exactNames(params: unknown, names: string): params is Record<string, unknown> {
  return isPlainObject(params) && Object.keys(params).sort().join(',') === names && typeof params.ticket === 'string';
}

function parseSignTransactionParams(params: unknown): { ticket: string; tx: TransactionSerializableEIP1559 } {
  if (!exactNames(params, 'ticket,transaction')) throw new SignerError('invalid_params');
  let tx: TransactionSerializableEIP1559;
  try {
    tx = fromWireTransaction(params.transaction as WireTransaction);
  } catch {
    throw new SignerError('invalid_params');
  }
  return { ticket: params.ticket as string, tx };
}

/**
 * Typed data: `{domain, types, primaryType, message}` and nothing else, hashable by viem's EIP-712 implementation (so
 * undeclared types, bad field values and the like are `invalid_params`). A frozen deep copy is what gets hashed and
 * signed, so nothing can change between the two.
 */
function parseSignTypedDataParams(params: unknown): { ticket: string; typedData: WireTypedData; digest: Hex; chainId: number | null } {
  if (!exactNames(params, 'ticket,typedData')) throw new SignerError('invalid_params');
  const raw = params.typedData;
  if (!isPlainObject(raw) || Object.keys(raw).sort().join(',') !== 'domain,message,primaryType,types') throw new SignerError('invalid_params');
  if (!isPlainObject(raw.domain) || !isPlainObject(raw.types) || !isPlainObject(raw.message) || typeof raw.primaryType !== 'string') {
    throw new SignerError('invalid_params');
  }
  const typedData = deepFreeze(structuredClone(raw)) as unknown as WireTypedData;
  let digest: Hex;
  try {
    digest = typedDataDigest(typedData);
  } catch {
    throw new SignerError('invalid_params');
  }
  const domainChain = typedData.domain.chainId;
  let chainId: number | null = null;
  if (domainChain !== undefined) {
    const n = typeof domainChain === 'string' && /^[0-9]{1,16}$/.test(domainChain) ? Number(domainChain) : domainChain;
    if (!Number.isSafeInteger(n) || (n as number) < 1) throw new SignerError('invalid_params');
    chainId = n as number;
  }
  return { ticket: params.ticket as string, typedData, digest, chainId };
}

function parseSignMessageParams(params: unknown): { ticket: string; message: Hex } {
  if (!exactNames(params, 'message,ticket') || typeof params.message !== 'string' || !MESSAGE_HEX.test(params.message)) {
    throw new SignerError('invalid_params');
  }
  return { ticket: params.ticket as string, message: params.message as Hex };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

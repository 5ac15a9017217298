import { randomUUID, verify as verifySignature, type KeyObject } from 'node:crypto';
import {
  SIGNER_ERRORS,
  isRequestId,
  latchReleaseMessage,
  logEvent,
  SIGNER_METHODS,
  SignerError,
  deepFreeze,
  fromWireTransaction,
  messageDigest,
  faultPoint,
  transactionDigest,
  typedDataDigest,
  type KeyListing,
  type LatchState,
  type ListKeysResult,
  type NonceMode,
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
import { parseSignCheckpointParams, type AuditCheckpoints } from './audit-checkpoints.ts';
import type { SignerKey } from './keys/signer-key.ts';
import {
  checkPolicy,
  isSelfCancellation,
  type KeyStanding,
  type SignFacts,
  type SignerPolicy,
} from './policy/signer-policy.ts';
import type { Reservation, SignerJournal } from './signer-journal.ts';
import type { TicketVerifier } from './ticket-verifier.ts';

const MAX_ID_CHARS = 128;
const ENVELOPE_NAMES = new Set(['v', 'id', 'method', 'params', 'requestId']);
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
  /**
   * Ed25519 public keys whose signature lifts the kill-switch latch (`release_latch`); none configured: only
   * `clawd402-signer latch release` on the signer's host, with the signer stopped, lifts it (docs/killswitch.md).
   */
  releaseKeys?: () => readonly KeyObject[];
  /** The audit checkpoint notary; null when no checkpoint directory is configured. */
  checkpoints?: AuditCheckpoints | null;
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
 * ticket against it (a `cancel` ticket must carry a zero-value self-transfer) → the signer's policy for the key
 * (operation, chain, per-transaction cap, cancel-only) → spend the ticket, claim the nonce (nonce-guard.ts) and
 * reserve the worst-case value against the rolling-day cap in one synchronous step → wait until that is on disk → sign. If signing fails (a device declined), the reservation is given back; the ticket stays spent.
 */
export function createRequestHandler(
  deps: RequestHandlerDeps,
): (frame: Record<string, unknown>) => HandledFrame | Promise<HandledFrame> {
  const status: StatusResult = { keys: deps.keys.map((k) => k.info()), chains: [...deps.chains] };

  async function authorizeAndSign<T>(
    ticket: string,
    payload: {
      operation: SignOperation;
      chainId: number | null;
      digest: Hex;
      nonce?: number;
      facts: Omit<SignFacts, 'operation' | 'chainId'>;
    },
    sign: (key: SignerKey) => Promise<T>,
  ): Promise<{ key: SignerKey; result: T; jti: string; iid: string; cid: number; nonceMode: NonceMode }> {
    const { claims, key, nonceMode } = await deps.verifier.verify(ticket, payload);
    const tx = payload.facts.transaction;
    // The kill switch's latch: nothing but a zero-value transfer to the key itself (a cancellation, a nonce filler, or
    // a fee bump of either) is signed until the owners lift it (docs/killswitch.md).
    if (deps.journal.latch !== null && !(tx && isSelfCancellation(tx, key.address)))
      throw new SignerError('killswitch_latched');
    if (nonceMode === 'cancel' && !(tx && isSelfCancellation(tx, key.address)))
      throw new SignerError('ticket_not_cancellation');
    const meta = deps.metadata(key);
    const entry = checkPolicy(deps.policy(), key.id, meta, {
      operation: payload.operation,
      chainId: claims.cid,
      ...payload.facts,
    });
    // Check-and-record in one synchronous step: two requests with one ticket, two different transactions at one
    // nonce, or two that only fit the day's cap one at a time, cannot both get past here.
    const reservation: Reservation = deps.journal.reserve({
      ...(payload.nonce === undefined
        ? {}
        : {
            nonce: {
              claim: { chainId: claims.cid, address: key.address, nonce: payload.nonce, digest: payload.digest },
              mode: nonceMode,
            },
          }),
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
    return { key, result, jti: claims.jti, iid: claims.iid, cid: claims.cid, nonceMode };
  }

  async function signTransaction(params: unknown, log: Logger): Promise<SignTransactionResult> {
    const { ticket, tx } = parseSignTransactionParams(params);
    const digest = transactionDigest(tx);
    const amount = tx.value! + tx.gas! * tx.maxFeePerGas!;
    const {
      key,
      result: raw,
      jti,
      iid,
      cid,
      nonceMode,
    } = await authorizeAndSign(
      ticket,
      {
        operation: 'transaction',
        chainId: tx.chainId,
        digest,
        nonce: tx.nonce!,
        facts: { amount, transaction: { to: tx.to!, value: tx.value!, data: tx.data ?? '0x' } },
      },
      (k) => k.signTransaction(tx, digest),
    );
    faultPoint('signer.after_sign'); // crash tests only (docs/recovery.md)
    const hash = keccak256(raw);
    logEvent(log, 'signer.signed', {
      jti,
      iid,
      cid,
      from: key.address,
      hash,
      nonce: tx.nonce,
      nonceMode,
      op: 'transaction',
    });
    return { raw, hash, from: key.address };
  }

  /** Authorize and sign a request that moves no value by itself (typed data, a message): amount 0, logged by digest. */
  async function signDigestOnly(
    ticket: string,
    operation: 'typed_data' | 'personal_sign',
    chainId: number | null,
    digest: Hex,
    log: Logger,
    sign: (key: SignerKey) => Promise<Hex>,
  ): Promise<SignatureResult> {
    const {
      key,
      result: signature,
      jti,
      iid,
      cid,
    } = await authorizeAndSign(ticket, { operation, chainId, digest, facts: { amount: 0n } }, sign);
    logEvent(log, 'signer.signed', { jti, iid, cid, from: key.address, digest, op: operation });
    return { signature, digest, from: key.address };
  }

  async function signTypedData(params: unknown, log: Logger): Promise<SignatureResult> {
    const { ticket, typedData, digest, chainId } = parseSignTypedDataParams(params);
    return signDigestOnly(ticket, 'typed_data', chainId, digest, log, (k) => k.signTypedData(typedData, digest));
  }

  async function signMessage(params: unknown, log: Logger): Promise<SignatureResult> {
    const { ticket, message } = parseSignMessageParams(params);
    const digest = messageDigest(message);
    return signDigestOnly(ticket, 'personal_sign', null, digest, log, (k) => k.signMessage(message, digest));
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

  function latchState(): LatchState {
    const latch = deps.journal.latch;
    return latch
      ? { latched: true, latchId: latch.id, since: new Date(latch.since).toISOString() }
      : { latched: false, latchId: null, since: null };
  }

  async function latch(params: unknown, log: Logger): Promise<LatchState> {
    if (
      !isPlainObject(params) ||
      Object.keys(params).join(',') !== 'reason' ||
      typeof params.reason !== 'string' ||
      params.reason.length > 200
    )
      throw new SignerError('invalid_params');
    const already = deps.journal.latch !== null;
    const set = deps.journal.setLatch(randomUUID(), params.reason);
    await deps.journal.durable();
    if (!already) logEvent(log, 'signer.latched', { latchId: set.id });
    return latchState();
  }

  async function releaseLatch(params: unknown, log: Logger): Promise<LatchState> {
    if (
      !isPlainObject(params) ||
      Object.keys(params).sort().join(',') !== 'authorization,latchId' ||
      typeof params.latchId !== 'string' ||
      typeof params.authorization !== 'string' ||
      !/^[A-Za-z0-9_-]{1,200}$/.test(params.authorization)
    )
      throw new SignerError('invalid_params');
    const current = deps.journal.latch;
    if (current === null) return latchState();
    const signature = Buffer.from(params.authorization, 'base64url');
    const message = latchReleaseMessage(current.id);
    const authorized =
      params.latchId === current.id &&
      (deps.releaseKeys?.() ?? []).some((key) => verifySignature(null, message, key, signature));
    if (!authorized) throw new SignerError('latch_release_unauthorized');
    deps.journal.clearLatch(current.id);
    await deps.journal.durable();
    logEvent(log, 'signer.latch_released', { latchId: current.id });
    return latchState();
  }

  async function run(method: SignerMethod, params: unknown, log: Logger): Promise<unknown> {
    switch (method) {
      case 'latch':
        return latch(params, log);
      case 'latch_status':
        assertNoParams(params);
        return latchState();
      case 'release_latch':
        return releaseLatch(params, log);
      case 'status':
        assertNoParams(params);
        return status;
      case 'list_keys':
        return listKeys(params);
      case 'sign_transaction':
        return signTransaction(params, log);
      case 'sign_typed_data':
        return signTypedData(params, log);
      case 'sign_message':
        return signMessage(params, log);
      case 'sign_checkpoint': {
        if (!deps.checkpoints) throw new SignerError('checkpoints_unavailable');
        const request = parseSignCheckpointParams(params);
        const result = await deps.checkpoints.sign(request);
        log.info({ count: request.count, head: request.head }, 'audit checkpoint');
        return result;
      }
      case 'get_checkpoint':
        assertNoParams(params);
        if (!deps.checkpoints) throw new SignerError('checkpoints_unavailable');
        return deps.checkpoints.latest();
    }
  }

  async function dispatch(id: string, method: SignerMethod, params: unknown, log: Logger): Promise<HandledFrame> {
    try {
      const result = await run(method, params, log);
      return { response: { v: 1, id, result }, close: false };
    } catch (error) {
      if (error instanceof SignerError) {
        logEvent(log, 'signer.refused', { id, method, code: error.code });
        return { response: errorResponse(id, error.code), close: false };
      }
      // Unexpected: answer with the fixed sentence, log only the error's class (messages may quote inputs).
      logEvent(log, 'signer.internal_error', {
        id,
        method,
        errorName: error instanceof Error ? error.name : typeof error,
      });
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
      Object.keys(frame).some((name) => !ENVELOPE_NAMES.has(name)) ||
      (frame.requestId !== undefined && !isRequestId(frame.requestId))
    ) {
      return {
        response: errorResponse(typeof id === 'string' && id.length <= MAX_ID_CHARS ? id : null, 'malformed_frame'),
        close: true,
      };
    }
    // The gateway's request id, on every line this request logs (docs/logging.md).
    const log = frame.requestId === undefined ? deps.logger : deps.logger.child({ requestId: frame.requestId });
    if (!(SIGNER_METHODS as readonly string[]).includes(method)) {
      logEvent(log, 'signer.refused', { id, code: 'unknown_method' });
      return { response: errorResponse(id, 'unknown_method'), close: false };
    }
    return dispatch(id, method as SignerMethod, params, log);
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
function parseSignTypedDataParams(params: unknown): {
  ticket: string;
  typedData: WireTypedData;
  digest: Hex;
  chainId: number | null;
} {
  if (!exactNames(params, 'ticket,typedData')) throw new SignerError('invalid_params');
  const raw = params.typedData;
  if (!isPlainObject(raw) || Object.keys(raw).sort().join(',') !== 'domain,message,primaryType,types')
    throw new SignerError('invalid_params');
  if (
    !isPlainObject(raw.domain) ||
    !isPlainObject(raw.types) ||
    !isPlainObject(raw.message) ||
    typeof raw.primaryType !== 'string'
  ) {
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
  if (
    !exactNames(params, 'message,ticket') ||
    typeof params.message !== 'string' ||
    !MESSAGE_HEX.test(params.message)
  ) {
    throw new SignerError('invalid_params');
  }
  return { ticket: params.ticket as string, message: params.message as Hex };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

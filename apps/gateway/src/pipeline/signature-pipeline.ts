import { randomUUID } from 'node:crypto';
import { getAddress, recoverAddress, size, stringToHex, type Address, type Hex } from 'viem';
import { decodeTypedData, isChainIdMismatch, isRawHashMessage, type DecodedTypedData, type Effect } from '@clawd402/decoder';
import type { IntentFacts, PolicySet } from '@clawd402/policy';
import {
  Clawd402Error,
  MAX_MESSAGE_BYTES,
  REASON_CODES,
  SignerError,
  messageDigest,
  parseAddress,
  typedDataDigest,
  type ApiErrorCode,
  type AuthorizationIntentBody,
  type Decision,
  type MessageIntentBody,
  type ReasonCode,
  type SignatureIntentBody,
  type SignatureResult,
  type TypedDataIntentBody,
  type WireTypedData,
} from '@clawd402/protocol';
import { isDatabaseUnavailable } from '../db/pool.ts';
import type { Valuation } from '../money/price-book.ts';
import type { AgentContext } from '../plugins/app/auth.ts';
import {
  findByIdempotencyKey,
  findIntent,
  insertIntent,
  recordSigningRequest,
  transitionIntent,
  type IntentRecord,
  type SigningRequestRecord,
} from '../repositories/intents-repository.ts';
import { adjustSpend, closeSpend } from '../repositories/spend-repository.ts';
import { redactPersonalData } from '../security/intent-hygiene.ts';
import type { DecisionLanes, DecisionRequest } from './decision-lanes.ts';
import type { PipelineDeps, PipelineResult } from './intent-pipeline.ts';
import type { NormalizedIntent } from './normalize.ts';

const NATIVE_DECIMALS = 18;
/** Largest typed-data payload (its JSON) sent to the signer; the signer's frames are at most 256 KiB. */
export const MAX_TYPED_DATA_JSON_CHARS = 64 * 1024;

/** A signature intent after validation: what policy sees, what is stored, and exactly what the signer is handed. */
interface PreparedSignature {
  readonly type: SignatureIntentBody['type'];
  readonly chainId: number;
  readonly memo: string | null;
  /** For policy and storage: the spender of a permit, the payee of a transfer authorisation, the delegate, or the
   *  signer itself (a message, typed data naming nobody). */
  readonly recipient: Address;
  /** Refused outright, before policy (the chain-safety refusals of @clawd402/decoder); null otherwise. */
  readonly refusal: ReasonCode | null;
  /** Policy facts over the zero-value intent's own (decision-lanes.ts merges them last). */
  readonly facts: Partial<IntentFacts>;
  /** What counts against budgets: a transfer the signature authorises (EIP-3009); zero otherwise. */
  readonly value: Valuation;
  readonly record: SigningRequestRecord;
  /** The digest the ticket binds (EIP-712 or EIP-191); null for an EIP-7702 authorisation (never signed). */
  readonly digest: Hex | null;
  /** What the signer is handed: a frozen copy of the typed data, or the message bytes. */
  readonly payload: { readonly kind: 'typed_data'; readonly typedData: WireTypedData } | { readonly kind: 'message'; readonly bytes: Hex } | { readonly kind: 'authorization' };
}

/**
 * Signature intents (docs/signatures.md): EIP-712 typed data, `personal_sign` messages and EIP-7702 authorisations,
 * decided by the same policy, breakers and audit trail as transactions. One request, top to bottom:
 *
 *   validate and decode (typed data with `decodeTypedData`) → the chain-safety refusals, recorded as rejected intents
 *   before policy (`chain.raw_hash_signing`, `chain.chain_id_mismatch`, an authorisation for chain id 0) → decision
 *   lane (policy, breakers, prices; what an EIP-3009 transfer authorisation moves is reserved, nothing else is; an
 *   authorisation needs a rule naming its delegate; no human approval) → record the request → ticket (`typed_data` /
 *   `personal_sign`) → signer → check the signature recovers to the key → store it with its audit record, `signed`.
 *
 * `signed` is terminal: nothing is broadcast, and the signature reaches the agent only after it is stored and audited.
 * Any failure after the decision leaves the intent `failed` with its code and nothing returned.
 */
export class SignaturePipeline {
  constructor(
    private readonly deps: PipelineDeps,
    private readonly decisions: DecisionLanes,
  ) {}

  /** Decide, sign and store one signature intent; called by IntentPipeline after the hygiene screen and idempotency. */
  async process(principal: AgentContext, body: SignatureIntentBody, requestHash: string, idempotencyKey: string | null): Promise<PipelineResult> {
    const prepared = await this.prepare(principal, body);
    const decided = prepared.refusal !== null
      ? await this.refuse(principal, prepared, requestHash, idempotencyKey)
      : (await this.decisions.decide(this.decisionRequest(principal, prepared, requestHash, idempotencyKey))).intent;
    if (decided === null) {
      // Lost an idempotency race to a concurrent request with the same key: answer with the winner's intent.
      const existing = await findByIdempotencyKey(this.deps.pool, principal.agentId, idempotencyKey!);
      if (!existing) throw new Error('idempotent insert conflicted but no intent was found');
      if (existing.requestHash !== requestHash) throw new Clawd402Error('idempotency_key_reused', undefined, { details: { intentId: existing.id } });
      return { intent: existing, created: false };
    }
    const intent = (await recordSigningRequest(this.deps.pool, decided.id, { request: prepared.record, digest: prepared.digest })) ?? decided;
    if (intent.status !== 'approved') return { intent, created: true };
    return { intent: await this.sign(intent, prepared), created: true };
  }

  // ── Validation and facts ─────────────────────────────────────────────────────────────────────────────────────────

  private async prepare(principal: AgentContext, body: SignatureIntentBody): Promise<PreparedSignature> {
    // An authorisation for chain id 0 is valid on every chain: it is refused below whatever chains are configured.
    if (!(body.type === 'authorization' && body.chainId === 0) && !this.deps.chains.has(body.chainId)) {
      throw new Clawd402Error('chain_not_configured', `Chain ${body.chainId} is not configured on this gateway.`, {
        details: { field: 'chainId', chainId: body.chainId },
      });
    }
    const memo = body.memo === undefined ? null : redactPersonalData(body.memo);
    const signer = getAddress(principal.signerAddress);
    switch (body.type) {
      case 'typed_data':
        return this.prepareTypedData(body, memo, signer);
      case 'message':
        return prepareMessage(body, memo, signer);
      case 'authorization':
        return prepareAuthorization(body, memo);
    }
  }

  private async prepareTypedData(body: TypedDataIntentBody, memo: string | null, signer: Address): Promise<PreparedSignature> {
    // Copy untrusted input once: what is decoded, hashed, stored and sent to the signer is this frozen copy.
    const typedData = deepFreeze(structuredClone(body.typedData)) as unknown as WireTypedData;
    if (JSON.stringify(typedData).length > MAX_TYPED_DATA_JSON_CHARS) {
      throw new Clawd402Error('payload_too_large', `typedData must be at most ${MAX_TYPED_DATA_JSON_CHARS} characters of JSON.`, {
        details: { field: 'typedData', maxLength: MAX_TYPED_DATA_JSON_CHARS },
      });
    }
    const decoded = decodeTypedData(typedData);
    if (!decoded.ok) {
      throw new Clawd402Error('typed_data_malformed', decoded.message, { details: { field: decoded.field ? `typedData.${decoded.field}` : 'typedData' } });
    }
    const refusal: ReasonCode | null = isChainIdMismatch(decoded.domain.chainId, body.chainId) ? 'chain.chain_id_mismatch' : null;
    // The signer hashes the payload it is sent with viem; it must come to the digest the decoder described.
    if (refusal === null && viemDigest(typedData) !== decoded.digest) {
      throw new Clawd402Error('typed_data_malformed', 'The typed data hashes differently from its validated form.', { details: { field: 'typedData' } });
    }
    const { facts, value, recipient } = await this.typedDataFacts(body.chainId, decoded, signer);
    return {
      type: 'typed_data',
      chainId: body.chainId,
      memo,
      recipient,
      refusal,
      facts,
      value,
      record: { operation: 'typed_data', request: typedData },
      digest: decoded.digest,
      payload: { kind: 'typed_data', typedData },
    };
  }

  /**
   * Policy facts of typed data: its domain and primary type; for permits the spender, allowance and unlimited flag
   * (one spender, or unknown when several differ); for an EIP-3009 transfer its token, payee and amount, valued and
   * reserved like a transfer. What an unrecognised payload does is unknown: no approval flag, asset, amount or USD value,
   * so rules reading them fail closed.
   */
  private async typedDataFacts(chainId: number, decoded: DecodedTypedData, signer: Address): Promise<{ facts: Partial<IntentFacts>; value: Valuation; recipient: Address }> {
    const { domain } = decoded;
    const typedData: IntentFacts['typedData'] = {
      primaryType: decoded.primaryType,
      domain: {
        ...(domain.name !== undefined ? { name: domain.name } : {}),
        ...(domain.version !== undefined ? { version: domain.version } : {}),
        ...(domain.chainId !== undefined ? { chainId: domain.chainId } : {}),
        ...(domain.verifyingContract !== undefined ? { verifyingContract: domain.verifyingContract } : {}),
      },
    };
    const permits = decoded.effects.filter((e) => e.kind === 'permit');
    const transfers = decoded.effects.filter((e) => e.kind === 'transfer');
    const spender = only(permits.map((e) => e.spender));
    const payee = only(transfers.map((e) => e.recipient));
    const recipient = spender ?? payee ?? domain.verifyingContract ?? signer;
    const effect = decoded.effects.length === 1 ? decoded.effects[0]! : undefined;
    const asset = effect && effect.asset !== 'native' ? effect.asset : undefined;
    const decimals = asset === undefined ? undefined : await this.decimals(chainId, asset, effect!);
    const unknown = decoded.kind === 'unknown';

    let value: Valuation = ZERO_VALUE;
    if (transfers.length > 0) {
      // The signature itself moves these tokens (whoever submits it): valued and reserved like a transfer.
      value = transfers.length === 1 && transfers[0]!.amount !== undefined && decimals !== undefined
        ? await this.deps.prices.value(chainId, transfers[0]!.asset, transfers[0]!.amount, decimals)
        : { status: 'unknown', detail: 'The typed data authorises a transfer that cannot be valued.' };
    }
    const facts: Partial<IntentFacts> = {
      type: 'typed_data',
      typedData,
      recipient,
      // One effect: its token and amount. None: nothing moves. Several (a batch permit): no single answer, unknown.
      ...(unknown || decoded.effects.length > 1
        ? { asset: undefined, amount: undefined, decimals: undefined }
        : effect
          ? { asset, amount: effect.amount, decimals }
          : { asset: 'native' as const, amount: 0n, decimals: NATIVE_DECIMALS }),
      spender,
      approvalAmount: permits.length === 1 ? permits[0]!.amount : undefined,
      unlimitedApproval: unknown ? undefined : decoded.flags.unlimitedApproval,
      ...(unknown ? { valueUsd: undefined, priceStatus: 'unknown' as const } : {}),
    };
    return { facts, value, recipient };
  }

  private async decimals(chainId: number, asset: Address, effect: Effect): Promise<number | undefined> {
    if (effect.standard === 'erc721' || effect.standard === 'erc1155') return 0;
    return (await this.deps.chains.tokenDecimals(chainId, asset).catch(() => null)) ?? undefined;
  }

  // ── Decision ─────────────────────────────────────────────────────────────────────────────────────────────────────

  private decisionRequest(principal: AgentContext, prepared: PreparedSignature, requestHash: string, idempotencyKey: string | null): DecisionRequest {
    // The decision lane stores and decides a NormalizedIntent. A signature intent is one that moves nothing by itself:
    // no call, no value, native asset, amount 0; its own facts (typed data, permit, delegate) ride in extraFacts.
    // Typed against NormalizedIntent (but for its `type`), so a field added there must be decided here too.
    const zeroValue: Omit<NormalizedIntent, 'type'> & { readonly type: SignatureIntentBody['type'] } = {
      type: prepared.type,
      chainId: prepared.chainId,
      recipient: prepared.recipient,
      asset: 'native',
      amount: 0n,
      decimals: NATIVE_DECIMALS,
      memo: prepared.memo,
      call: Object.freeze({ to: prepared.recipient, value: 0n, data: '0x' as Hex }),
      data: null,
      deadline: null,
    };
    const intent = Object.freeze(zeroValue) as unknown as NormalizedIntent;
    return {
      principal,
      intent,
      requestHash,
      idempotencyKey,
      value: prepared.value,
      // A signature pays no network fee.
      cost: { gas: 0n, fees: { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n }, usd: ZERO_VALUE },
      extraFacts: prepared.facts,
      review: (decision) => reviewSignatureDecision(prepared.type, decision),
    };
  }

  /** Record a chain-safety refusal: a rejected intent (decision.policy null) with its audit record, nothing else. */
  private async refuse(principal: AgentContext, prepared: PreparedSignature, requestHash: string, idempotencyKey: string | null): Promise<IntentRecord | null> {
    const code = prepared.refusal!;
    const policy: PolicySet = this.deps.policy();
    const message = prepared.type === 'authorization'
      ? 'An EIP-7702 authorisation with chain id 0 is valid on every chain; it is never signed.'
      : REASON_CODES[code];
    const decision: Decision = { action: 'reject', policy: null, policySetHash: policy.hash, reasons: [{ code, message }] };
    const id = randomUUID();
    return insertIntent(
      this.deps.pool,
      {
        id,
        agentId: principal.agentId,
        apiKeyId: principal.apiKeyId,
        idempotencyKey,
        requestHash,
        status: 'rejected',
        type: prepared.type,
        chainId: prepared.chainId,
        from: principal.signerAddress,
        to: prepared.recipient,
        recipient: prepared.recipient,
        asset: 'native',
        amount: 0n,
        decimals: NATIVE_DECIMALS,
        data: null,
        memo: prepared.memo,
        decision,
      },
      {
        actor: `agent:${principal.agentId}`,
        action: 'intent.decided',
        subject: `intent:${id}`,
        data: {
          apiKeyId: principal.apiKeyId, requestHash, type: prepared.type, chainId: prepared.chainId, recipient: prepared.recipient,
          action: 'reject', policy: null, policySetHash: policy.hash, reasons: [code], status: 'rejected',
        },
      },
    );
  }

  // ── Signing ──────────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Ticket → signer → check → store with its audit record (one statement). Any failure: the intent ends `failed` with
   * the step's code, its reservation released, and no signature leaves the gateway.
   */
  private async sign(intent: IntentRecord, prepared: PreparedSignature): Promise<IntentRecord> {
    const { pool, tickets, signer, log } = this.deps;
    try {
      const from = getAddress(intent.from!);
      const { payload, digest } = prepared;
      // The signer has no method for EIP-7702 authorisations: an allowed one stops here (docs/signatures.md).
      if (payload.kind === 'authorization' || digest === null) throw new Clawd402Error('eip7702_signing_unsupported');
      const operation = payload.kind === 'typed_data' ? 'typed_data' : 'personal_sign';
      const ticket = await tickets.issue({ intentId: intent.id, chainId: intent.chainId, signerKeyId: from, digest, operation });
      const result = payload.kind === 'typed_data'
        ? await signer.signTypedData({ ticket, typedData: payload.typedData })
        : await signer.signMessage({ ticket, message: payload.bytes });
      await assertSignedAsAsked(result, from, digest);
      const signed = await transitionIntent(pool, intent.id, ['approved'], 'signed', {
        fields: { signature: result.signature.toLowerCase() },
        detail: { operation, digest },
        audit: { actor: 'system:gateway', action: 'intent.signed', subject: `intent:${intent.id}`, data: { chainId: intent.chainId, from, operation, digest } },
      });
      if (!signed) {
        // Moved meanwhile (cancelled, or failed by the abandoned-approval sweep): the signature is dropped, never returned.
        log.warn({ intentId: intent.id }, 'signature intent left approved while it was signed; the signature was discarded');
        return (await findIntent(pool, intent.id)) ?? intent;
      }
      // A reserved transfer authorisation is now spent: its spend stays counted (a signature has no receipt to settle).
      await adjustSpend(pool, intent.id, { to: 'committed' }).catch((error: unknown) => log.error({ err: error, intentId: intent.id }, 'could not commit the reservation'));
      return signed;
    } catch (error) {
      const code = failureCode(error);
      log[code === 'internal_error' ? 'error' : 'warn']({ err: error, intentId: intent.id, code }, 'signature intent not signed');
      return this.fail(intent, code, error instanceof Clawd402Error ? error.message : undefined);
    }
  }

  private async fail(intent: IntentRecord, code: ApiErrorCode, message?: string): Promise<IntentRecord> {
    const text = message ?? new Clawd402Error(code).message;
    try {
      const failed = await transitionIntent(this.deps.pool, intent.id, ['approved'], 'failed', {
        fields: { error_code: code, error_message: text },
        audit: { actor: 'system:gateway', action: 'intent.failed', subject: `intent:${intent.id}`, data: { code } },
      });
      if (failed) await closeSpend(this.deps.pool, intent.id).catch((error: unknown) => {
        this.deps.log.error({ err: error, intentId: intent.id }, 'could not release the reservation; the tracker will');
      });
      return failed ?? intent;
    } catch (error) {
      this.deps.log.error({ err: error, intentId: intent.id }, 'could not record intent failure');
      throw new Clawd402Error(code, text, { cause: error });
    }
  }
}

// ── Pure helpers ───────────────────────────────────────────────────────────────────────────────────────────────────

/** A message to sign personal_sign style; an opaque 32-byte hash is refused (`chain.raw_hash_signing`). */
function prepareMessage(body: MessageIntentBody, memo: string | null, signer: Address): PreparedSignature {
  const text = typeof body.message === 'string' ? body.message : null;
  const bytes = (typeof body.message === 'string' ? stringToHex(body.message) : body.message.raw.toLowerCase()) as Hex;
  if (size(bytes) > MAX_MESSAGE_BYTES) {
    throw new Clawd402Error('payload_too_large', `message must be at most ${MAX_MESSAGE_BYTES} bytes.`, { details: { field: 'message', maxBytes: MAX_MESSAGE_BYTES } });
  }
  // Text is signed as its UTF-8 bytes, never read as hex; raw bytes that are a bare 32-byte hash are what eth_sign signs.
  const refusal: ReasonCode | null = text === null && isRawHashMessage(bytes) ? 'chain.raw_hash_signing' : null;
  return {
    type: 'message',
    chainId: body.chainId,
    memo,
    recipient: signer,
    refusal,
    // A message moves nothing on chain and grants no token approval.
    facts: { type: 'message', recipient: signer, asset: 'native', amount: 0n, decimals: NATIVE_DECIMALS, unlimitedApproval: false },
    value: ZERO_VALUE,
    record: { operation: 'personal_sign', request: text !== null ? { text } : { raw: bytes } },
    digest: messageDigest(bytes),
    payload: { kind: 'message', bytes },
  };
}

/**
 * An EIP-7702 authorisation: the delegate's code would run as the account, so what it may do is unknown (no approval
 * flag, amount or USD value). Chain id 0 is refused outright; any other needs a rule naming the delegate.
 */
function prepareAuthorization(body: AuthorizationIntentBody, memo: string | null): PreparedSignature {
  const delegate = parseAddress('delegate', body.delegate);
  return {
    type: 'authorization',
    chainId: body.chainId,
    memo,
    recipient: delegate,
    refusal: body.chainId === 0 ? 'chain.eip7702_authorization' : null,
    facts: {
      type: 'authorization',
      recipient: delegate,
      authorizationDelegate: delegate,
      asset: undefined,
      amount: undefined,
      decimals: undefined,
      valueUsd: undefined,
      priceStatus: 'unknown',
    },
    value: ZERO_VALUE,
    record: { operation: 'eip7702_authorization', request: { chainId: body.chainId, delegate, nonce: body.nonce ?? null } },
    digest: null,
    payload: { kind: 'authorization' },
  };
}

/**
 * What the lane's decision becomes for a signature intent (only ever stricter):
 * - an authorisation is allowed only by a rule naming its delegate (`policy.authorization_delegate_allowed`);
 *   otherwise it is rejected with `chain.eip7702_authorization` first among the reasons;
 * - a decision that would wait for a human (a rule, or the soft breaker) is a reject: a signature intent has no path
 *   back from an approval yet (`signature.human_approval_unsupported`).
 */
export function reviewSignatureDecision(type: SignatureIntentBody['type'], decision: Decision): Decision {
  if (type === 'authorization' && !decision.reasons.some((r) => r.code === 'policy.authorization_delegate_allowed')) {
    return decision.action === 'reject' && decision.reasons[0]?.code === 'chain.eip7702_authorization' ? decision : rejectWith(decision, 'chain.eip7702_authorization');
  }
  if (decision.action === 'require_human_approval') return rejectWith(decision, 'signature.human_approval_unsupported');
  return decision;
}

function rejectWith(decision: Decision, code: ReasonCode): Decision {
  const { approval: _dropped, ...rest } = decision;
  return { ...rest, action: 'reject', reasons: [{ code, message: REASON_CODES[code] }, ...decision.reasons] };
}

/** The signer must hand back a signature by the ticketed key over exactly the ticketed digest. */
async function assertSignedAsAsked(result: SignatureResult, from: Address, digest: Hex): Promise<void> {
  const recovered = await recoverAddress({ hash: digest, signature: result.signature }).catch(() => null);
  if (result.digest.toLowerCase() !== digest.toLowerCase() || result.from.toLowerCase() !== from.toLowerCase() || recovered?.toLowerCase() !== from.toLowerCase()) {
    throw new SignerError('signer_internal', 'signer returned a signature other than the one ticketed');
  }
}

function failureCode(error: unknown): ApiErrorCode {
  if (error instanceof Clawd402Error) return error.code;
  if (error instanceof SignerError) return 'signer_refused';
  if (isDatabaseUnavailable(error)) return 'database_unavailable';
  return 'internal_error';
}

/** The one value every item shares, or undefined (none, or several different). */
function only<T>(values: readonly (T | undefined)[]): T | undefined {
  const first = values[0];
  return first !== undefined && values.every((v) => v === first) ? first : undefined;
}

function viemDigest(typedData: WireTypedData): Hex | null {
  try {
    return typedDataDigest(typedData);
  } catch {
    return null;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Nothing moves, no fee: valued at exactly zero (a signature intent reserves nothing unless it authorises a transfer). */
const ZERO_VALUE: Valuation = Object.freeze({
  status: 'ok',
  usd: 0n,
  price: Object.freeze({ status: 'ok', micros: 0n, source: 'static', at: new Date(0), symbol: 'NONE', decimals: NATIVE_DECIMALS }),
}) as Valuation;

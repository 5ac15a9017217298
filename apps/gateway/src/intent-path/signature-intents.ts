import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { getAddress, size, stringToHex, type Address, type Hex } from 'viem';
import {
  decodeTypedData,
  isChainIdMismatch,
  isRawHashMessage,
  type DecodedTypedData,
  type Effect,
} from '@clawd402/decoder';
import type { IntentFacts, PolicySet } from '@clawd402/policy';
import {
  Clawd402Error,
  MAX_MESSAGE_BYTES,
  deepFreeze,
  REASON_CODES,
  messageDigest,
  parseAddress,
  typedDataDigest,
  type AuthorizationIntentBody,
  type Decision,
  type MessageIntentBody,
  type ReasonCode,
  type SignatureIntentBody,
  type TypedDataIntentBody,
  type WireTypedData,
  type X402PaymentIntentBody,
} from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { AgentContext, Requester } from '../domain/agent.ts';
import type { IntentRecord, NormalizedIntent, SigningRequestRecord } from '../domain/intent.ts';
import type { PriceBook, Valuation } from '../money/price-book.ts';
import { insertIntent } from '../repositories/intents-repository.ts';
import { redactPersonalData } from '../security/intent-hygiene.ts';
import type { DecisionRequest } from './07-decide.ts';
import { assertWithinCap, planX402Payment, type X402Settings } from './x402-payments.ts';

const NATIVE_DECIMALS = 18;
/** Largest typed-data payload (its JSON) sent to the signer; the signer's frames are at most 256 KiB. */
export const MAX_TYPED_DATA_JSON_CHARS = 64 * 1024;

/** A signature intent after validation: what policy sees, what is stored, and exactly what the signer is handed. */
export interface PreparedSignature {
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
  /** What the intent is stored as moving (an x402 payment: its token and price); absent: nothing (native, 0). */
  readonly moves?: { readonly asset: Address; readonly amount: bigint; readonly decimals: number };
  readonly payload:
    | { readonly kind: 'typed_data'; readonly typedData: WireTypedData }
    | { readonly kind: 'message'; readonly bytes: Hex }
    | { readonly kind: 'authorization' };
}

export interface SignatureDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  prices: PriceBook;
  policy: () => PolicySet;
  /** What x402 payments may pay (docs/x402.md). */
  x402: X402Settings;
}

/**
 * Signature intents (docs/signatures.md): EIP-712 typed data, `personal_sign` messages and EIP-7702 authorisations
 * share the intent path — authorize, screen, idempotency, the same decision lane with the same breakers and audit —
 * and branch here where they differ from transactions:
 *
 *   normalise and decode ({@link prepareSignature}: typed data with `decodeTypedData`, copied and frozen once) → the
 *   chain-safety refusals, recorded as rejected intents before policy ({@link recordRefusal}: `chain.raw_hash_signing`,
 *   `chain.chain_id_mismatch`, an authorisation for chain id 0) → the decision as a zero-value intent whose own facts
 *   ride along ({@link signatureDecisionRequest}: what an EIP-3009 transfer authorisation moves is reserved, nothing
 *   else is; an authorisation needs a rule naming its delegate; no human approval) → sign (10-sign.ts `signSignature`).
 *
 * `signed` is terminal: nothing is broadcast, and the signature reaches the agent only after it is stored and audited.
 */

export async function prepareSignature(
  deps: SignatureDeps,
  principal: AgentContext,
  body: SignatureIntentBody,
): Promise<PreparedSignature> {
  // An authorisation for chain id 0 is valid on every chain: it is refused below whatever chains are configured.
  if (!(body.type === 'authorization' && body.chainId === 0) && !deps.chains.has(body.chainId)) {
    throw new Clawd402Error('chain_not_configured', `Chain ${body.chainId} is not configured on this gateway.`, {
      details: { field: 'chainId', chainId: body.chainId },
    });
  }
  const memo = body.memo === undefined ? null : redactPersonalData(body.memo);
  const signer = getAddress(principal.signerAddress);
  switch (body.type) {
    case 'typed_data':
      return prepareTypedData(deps, body, memo, signer);
    case 'message':
      return prepareMessage(body, memo, signer);
    case 'authorization':
      return prepareAuthorization(body, memo);
    case 'x402_payment':
      return prepareX402Payment(deps, body, memo, signer);
  }
}

/**
 * An x402 payment (docs/x402.md): the requirement checked and the payee pinned (x402-payments.ts), then the EIP-3009
 * authorisation the gateway built goes the typed-data way — decoded, valued like a transfer of its token and reserved
 * against the same budgets — with its own facts (`x402`: host, resource, payee status) and the gateway's price cap.
 */
async function prepareX402Payment(
  deps: SignatureDeps,
  body: X402PaymentIntentBody,
  memo: string | null,
  signer: Address,
): Promise<PreparedSignature> {
  const payment = await planX402Payment(deps, body, signer);
  const typed = await prepareTypedData(
    deps,
    { type: 'typed_data', chainId: body.chainId, typedData: payment.typedData },
    memo,
    signer,
  );
  assertWithinCap(deps.x402, typed.value);
  const { record } = payment;
  const payee = getAddress(record.payee);
  return {
    ...typed,
    type: 'x402_payment',
    recipient: payee,
    facts: {
      ...typed.facts,
      type: 'x402_payment',
      recipient: payee,
      x402: { host: record.host, resource: record.resource, payee, payeeStatus: payment.payeeStatus },
    },
    moves: { asset: getAddress(record.asset), amount: BigInt(record.amount), decimals: typed.facts.decimals ?? 0 },
    record: { ...typed.record, x402: record },
  };
}

async function prepareTypedData(
  deps: SignatureDeps,
  body: TypedDataIntentBody,
  memo: string | null,
  signer: Address,
): Promise<PreparedSignature> {
  // Copy untrusted input once: what is decoded, hashed, stored and sent to the signer is this frozen copy.
  const typedData = deepFreeze(withNumericChainId(structuredClone(body.typedData)));
  if (JSON.stringify(typedData).length > MAX_TYPED_DATA_JSON_CHARS) {
    throw new Clawd402Error(
      'payload_too_large',
      `typedData must be at most ${MAX_TYPED_DATA_JSON_CHARS} characters of JSON.`,
      {
        details: { field: 'typedData', maxLength: MAX_TYPED_DATA_JSON_CHARS },
      },
    );
  }
  const decoded = decodeTypedData(typedData);
  if (!decoded.ok) {
    throw new Clawd402Error('typed_data_malformed', decoded.message, {
      details: { field: decoded.field ? `typedData.${decoded.field}` : 'typedData' },
    });
  }
  const refusal: ReasonCode | null = isChainIdMismatch(decoded.domain.chainId, body.chainId)
    ? 'chain.chain_id_mismatch'
    : null;
  // The signer hashes the payload it is sent with viem; it must come to the digest the decoder described.
  if (refusal === null && viemDigest(typedData) !== decoded.digest) {
    throw new Clawd402Error('typed_data_malformed', 'The typed data hashes differently from its validated form.', {
      details: { field: 'typedData' },
    });
  }
  const { facts, value, recipient } = await typedDataFacts(deps, body.chainId, decoded, signer);
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
async function typedDataFacts(
  deps: SignatureDeps,
  chainId: number,
  decoded: DecodedTypedData,
  signer: Address,
): Promise<{ facts: Partial<IntentFacts>; value: Valuation; recipient: Address }> {
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
  const decimals = asset === undefined ? undefined : await tokenDecimals(deps, chainId, asset, effect!);
  const unknown = decoded.kind === 'unknown';

  let value: Valuation = ZERO_VALUE;
  if (transfers.length > 0) {
    // The signature itself moves these tokens (whoever submits it): valued and reserved like a transfer.
    value =
      transfers.length === 1 && transfers[0]!.amount !== undefined && decimals !== undefined
        ? await deps.prices.value(chainId, transfers[0]!.asset, transfers[0]!.amount, decimals)
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

async function tokenDecimals(
  deps: SignatureDeps,
  chainId: number,
  asset: Address,
  effect: Effect,
): Promise<number | undefined> {
  if (effect.standard === 'erc721' || effect.standard === 'erc1155') return 0;
  return (await deps.chains.tokenDecimals(chainId, asset).catch(() => null)) ?? undefined;
}

export function signatureDecisionRequest(
  principal: Requester,
  prepared: PreparedSignature,
  requestHash: string,
  idempotencyKey: string | null,
): DecisionRequest {
  // The decision lane stores and decides a NormalizedIntent. A signature intent is one that moves nothing by itself:
  // no call, no value, native asset, amount 0; its own facts (typed data, permit, delegate) ride in extraFacts.
  // Typed against NormalizedIntent (but for its `type`), so a field added there must be decided here too.
  const zeroValue: Omit<NormalizedIntent, 'type'> & { readonly type: SignatureIntentBody['type'] } = {
    type: prepared.type,
    chainId: prepared.chainId,
    recipient: prepared.recipient,
    asset: prepared.moves?.asset ?? 'native',
    amount: prepared.moves?.amount ?? 0n,
    decimals: prepared.moves?.decimals ?? NATIVE_DECIMALS,
    memo: prepared.memo,
    call: Object.freeze({ to: prepared.recipient, value: 0n, data: '0x' }),
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
    stored: { signing: { request: prepared.record, digest: prepared.digest } },
    review: (decision) => reviewSignatureDecision(prepared, decision),
  };
}

/** Record a chain-safety refusal: a rejected intent (decision.policy null) with its audit record, nothing else. */
export async function recordRefusal(
  deps: SignatureDeps,
  principal: Requester,
  prepared: PreparedSignature,
  requestHash: string,
  idempotencyKey: string | null,
): Promise<IntentRecord | null> {
  const code = prepared.refusal!;
  const policy: PolicySet = deps.policy();
  const message =
    prepared.type === 'authorization'
      ? 'An EIP-7702 authorisation with chain id 0 is valid on every chain; it is never signed.'
      : REASON_CODES[code];
  const decision: Decision = {
    action: 'reject',
    policy: null,
    policySetHash: policy.hash,
    reasons: [{ code, message }],
  };
  const id = randomUUID();
  return insertIntent(
    deps.pool,
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
      origin: principal.origin,
      stored: { signing: { request: prepared.record, digest: prepared.digest } },
    },
    {
      actor: `agent:${principal.agentId}`,
      action: 'intent.decided',
      subject: `intent:${id}`,
      data: {
        apiKeyId: principal.apiKeyId,
        origin: principal.origin,
        requestHash,
        type: prepared.type,
        chainId: prepared.chainId,
        recipient: prepared.recipient,
        action: 'reject',
        policy: null,
        policySetHash: policy.hash,
        reasons: [code],
        status: 'rejected',
      },
    },
  );
}

// ── Pure helpers ───────────────────────────────────────────────────────────────────────────────────────────────────

/** A message to sign personal_sign style; an opaque 32-byte hash is refused (`chain.raw_hash_signing`). */
function prepareMessage(body: MessageIntentBody, memo: string | null, signer: Address): PreparedSignature {
  const text = typeof body.message === 'string' ? body.message : null;
  const bytes = (typeof body.message === 'string' ? stringToHex(body.message) : body.message.raw.toLowerCase()) as Hex;
  if (size(bytes) > MAX_MESSAGE_BYTES) {
    throw new Clawd402Error('payload_too_large', `message must be at most ${MAX_MESSAGE_BYTES} bytes.`, {
      details: { field: 'message', maxBytes: MAX_MESSAGE_BYTES },
    });
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
    facts: {
      type: 'message',
      recipient: signer,
      asset: 'native',
      amount: 0n,
      decimals: NATIVE_DECIMALS,
      unlimitedApproval: false,
    },
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
    record: {
      operation: 'eip7702_authorization',
      request: { chainId: body.chainId, delegate, nonce: body.nonce ?? null },
    },
    digest: null,
    payload: { kind: 'authorization' },
  };
}

/**
 * What the lane's decision becomes for a signature intent (only ever stricter):
 * - an authorisation is allowed only by a rule naming its delegate (`policy.authorization_delegate_allowed`);
 *   otherwise it is rejected with `chain.eip7702_authorization` first among the reasons;
 * - typed data whose domain has no chainId (valid on every chain) is allowed only by a rule naming its verifying
 *   contract in `typed_data_without_chain_id` (`policy.typed_data_without_chain_id_allowed`); otherwise it is rejected
 *   with `chain.typed_data_without_chain_id` first;
 * - a decision that would wait for a human (a rule, or the soft breaker) is a reject: a signature intent has no path
 *   back from an approval yet (`signature.human_approval_unsupported`).
 */
export function reviewSignatureDecision(
  prepared: Pick<PreparedSignature, 'type' | 'facts'>,
  decision: Decision,
): Decision {
  const refused = notAllowed(prepared, decision);
  if (refused !== null) {
    return decision.action === 'reject' && decision.reasons[0]?.code === refused
      ? decision
      : rejectWith(decision, refused);
  }
  if (decision.action === 'require_human_approval') return rejectWith(decision, 'signature.human_approval_unsupported');
  return decision;
}

/**
 * A signature valid beyond what the intent names (any delegate's code; any chain) whose deciding rule lacks the
 * condition that allows it: the code it is refused with; null otherwise.
 */
function notAllowed(prepared: Pick<PreparedSignature, 'type' | 'facts'>, decision: Decision): ReasonCode | null {
  const allows = (code: ReasonCode) => decision.reasons.some((r) => r.code === code);
  if (prepared.type === 'authorization' && !allows('policy.authorization_delegate_allowed')) {
    return 'chain.eip7702_authorization';
  }
  if (
    prepared.type === 'typed_data' &&
    prepared.facts.typedData?.domain.chainId === undefined &&
    !allows('policy.typed_data_without_chain_id_allowed')
  ) {
    return 'chain.typed_data_without_chain_id';
  }
  return null;
}

function rejectWith(decision: Decision, code: ReasonCode): Decision {
  const { approval: _dropped, ...rest } = decision;
  return { ...rest, action: 'reject', reasons: [{ code, message: REASON_CODES[code] }, ...decision.reasons] };
}

/** The one value every item shares, or undefined (none, or several different). */
function only<T>(values: readonly (T | undefined)[]): T | undefined {
  const first = values[0];
  return first !== undefined && values.every((v) => v === first) ? first : undefined;
}

/**
 * The domain's chainId as a JSON number when it was sent as an integer string (`"0x7a69"`, `"31337"`: how
 * `eth_signTypedData_v4` payloads often carry it). The decoder reads either; the signer hashes what it is sent with
 * viem, which takes only a number, so the payload signed, stored and shown carries the number. Anything else is left
 * for the decoder to refuse.
 */
function withNumericChainId(typedData: WireTypedData): WireTypedData {
  const domain = typedData?.domain as Record<string, unknown> | undefined;
  const chainId = domain?.chainId;
  if (typeof chainId !== 'string' || !/^(?:0x[0-9a-fA-F]{1,16}|[0-9]{1,16})$/.test(chainId)) return typedData;
  const value = Number(BigInt(chainId));
  if (!Number.isSafeInteger(value)) return typedData;
  return { ...typedData, domain: { ...domain, chainId: value } };
}

function viemDigest(typedData: WireTypedData): Hex | null {
  try {
    return typedDataDigest(typedData);
  } catch {
    return null;
  }
}

/** Nothing moves, no fee: valued at exactly zero (a signature intent reserves nothing unless it authorises a transfer). */
const ZERO_VALUE: Valuation = Object.freeze({
  status: 'ok',
  usd: 0n,
  price: Object.freeze({
    status: 'ok',
    micros: 0n,
    source: 'static',
    at: new Date(0),
    symbol: 'NONE',
    decimals: NATIVE_DECIMALS,
  }),
});

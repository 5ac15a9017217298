import type { Address, Hex } from 'viem';
import type { Decision, IntentOrigin, IntentStatus, SigningView, SimulationView, SwapView } from '@clawd402/protocol';

/** Every kind of intent stored: transactions (transfer, contract_call, swap) and signatures (docs/signatures.md). */
export type IntentType =
  'transfer' | 'contract_call' | 'swap' | 'typed_data' | 'message' | 'authorization' | 'x402_payment';

/**
 * An x402 payment as stored beside its typed data (`signing_request.x402`; intent-path/x402-payments.ts): the
 * resource, the requirement's terms and the EIP-3009 authorisation signed (integers as decimal strings).
 */
export interface X402Record {
  resource: string;
  host: string;
  x402Version: 1 | 2;
  network: string;
  payee: string;
  asset: string;
  amount: string;
  authorization: { from: string; to: string; value: string; validAfter: string; validBefore: string; nonce: string };
}

/** What a signature intent asked to sign (the `signing_request` column; intent-path/signature-intents.ts). */
export interface SigningRequestRecord {
  operation: SigningView['operation'];
  request: unknown;
  /** x402 payments only. */
  x402?: X402Record;
}

export interface IntentRecord {
  id: string;
  agentId: string;
  apiKeyId: string | null;
  requestHash: string;
  status: IntentStatus;
  type: IntentType;
  chainId: number;
  from: string | null;
  to: string;
  recipient: string;
  asset: string;
  amount: bigint;
  decimals: number;
  data: string | null;
  memo: string | null;
  decision: Decision | null;
  nonce: number | null;
  txHash: string | null;
  rawTx: string | null;
  error: { code: string; message: string } | null;
  createdAt: Date;
  updatedAt: Date;
  /** What simulating the transaction showed before the decision (null: not simulated, or recorded before 0011). */
  simulation: SimulationView | null;
  /** Swaps: route, quote and bounds. */
  swap: SwapView | null;
  /** The intent's value in micro-USD at decision time (null: not priced). */
  valueUsdMicros: bigint | null;
  /** After it nothing is signed or resubmitted for the intent (docs/submission.md). */
  deadline: Date | null;
  /** Where its transactions are broadcast, fixed at signing (null until signed). */
  submitRoute: 'public' | 'private' | null;
  /** Speed-ups and cancellations signed for its nonce (its transactions are in intent_transactions). */
  replacements: number;
  /** Set when a cancellation was signed: who asked (the deadline counts as asking). */
  cancelReason: 'agent' | 'operator' | 'deadline' | null;
  /** Signature intents: what was asked to be signed, the digest ticketed, and the signature once `signed`. */
  signing: SigningView | null;
  /** The surface it arrived through (null: recorded before migration 0022). */
  origin: IntentOrigin | null;
  /** x402 payments only: the payment and its authorisation (docs/x402.md). */
  x402: X402Record | null;
}

/**
 * An intent after validation: checksummed addresses, amounts in base units, the transaction it implies. Frozen:
 * later stages read this copy, never the request body.
 */
export interface NormalizedIntent {
  readonly type: 'transfer' | 'contract_call' | 'swap';
  readonly chainId: number;
  /** Who receives value: the transfer recipient, or the called contract (a swap: the router). */
  readonly recipient: Address;
  readonly asset: 'native' | Address;
  /** In the asset's base units. */
  readonly amount: bigint;
  readonly decimals: number;
  readonly memo: string | null;
  /** The call the transaction makes. */
  readonly call: { readonly to: Address; readonly value: bigint; readonly data: Hex };
  /** The calldata the agent sent (contract calls), or the router call the gateway built (swaps). */
  readonly data: Hex | null;
  /** Unix seconds after which nothing is signed or resubmitted for the intent; null when the agent set none. */
  readonly deadline: number | null;
  /** Swaps only: route, quote, bounds and deadline (swaps/swap-planner.ts). `asset`/`amount` are its input. */
  readonly swap?: PlannedSwap;
}

/** A swap after planning (swaps/swap-planner.ts): route, quote, bounds and the router call. */
export interface PlannedSwap {
  readonly router: Address;
  readonly inputAsset: 'native' | Address;
  readonly outputAsset: 'native' | Address;
  readonly inputAmount: bigint;
  readonly inputDecimals: number;
  readonly outputDecimals: number;
  readonly path: readonly Address[];
  readonly quotedOutput: bigint;
  readonly referenceOutput: bigint | null;
  /** `amountOutMin` passed on chain. */
  readonly minOutput: bigint;
  readonly slippageBps: bigint;
  /** Unix seconds. */
  readonly deadline: number;
  readonly call: { readonly to: Address; readonly value: bigint; readonly data: Hex };
  /** What is stored with the intent and shown to the agent. */
  readonly view: SwapView;
}

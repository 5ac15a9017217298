import type { Address } from 'viem';

/**
 * Every kind of intent the gateway knows or will know. The policy language accepts all of them today so that a set
 * written now keeps loading when the gateway starts producing the later kinds.
 */
export const TRANSACTION_TYPES = [
  'transfer',
  'contract_call',
  'approve',
  'swap',
  'typed_data',
  'message',
  'x402_payment',
  'authorization',
] as const;

/** One kind of intent; see {@link TRANSACTION_TYPES}. */
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/**
 * What the gateway knows about a normalised intent when it asks for a decision. The gateway builds this from the
 * frozen, validated intent; the policy package trusts its shapes but still treats a missing or malformed fact as
 * unknown (never as a match).
 */
export interface IntentFacts {
  /** The kind of intent. */
  type: TransactionType;
  /** EIP-155 chain id. */
  chainId: number;
  /** Checksummed recipient; for a contract_call, the `to` address. */
  recipient: Address;
  /** `'native'` for the chain's coin, else the checksummed token address. */
  asset: 'native' | Address;
  /** Amount in the asset's base units (wei for native). */
  amount: bigint;
  /** Decimals of the asset (18 for ETH, 6 for USDC). */
  decimals: number;

  // The facts below are optional even in a full IntentFacts: each exists only for some intents (a selector only for
  // a contract call, a spender only for an approval or permit) or once the gateway computes it. A condition that
  // reads an absent fact answers 'unknown' and the evaluation fails closed.

  /** The agent the intent belongs to (the gateway's agent id). */
  agentId?: string;
  /** The API key the agent authenticated with (the gateway's key id, never the key itself). */
  apiKeyId?: string;
  /**
   * The intent's value in micro-USD (1 USD = 1_000_000n): the amount moved, without fees (the gateway adds fees to
   * spend accounting, not here). Absent when no usable price exists; {@link IntentFacts.priceStatus} says why.
   */
  valueUsd?: bigint;
  /**
   * Why {@link IntentFacts.valueUsd} may be missing: `'ok'` (a price was used), `'unknown'` (no price source for the
   * asset) or `'stale'` (the price is older than its bound). With `'unknown'` or `'stale'`, valueUsd is ignored.
   */
  priceStatus?: 'ok' | 'unknown' | 'stale';
  /**
   * The agent's spend in the rolling 24 h and 1 h windows BEFORE this intent, in micro-USD and intent counts. The
   * gateway reads it under a lock, so that `dayUsd + valueUsd <= limit` is exact.
   */
  spend?: SpendFacts;
  /** The recipient / target contract is in the gateway's verified-contract registry. */
  contractVerified?: boolean;
  /** 4-byte function selector of the call, lowercase (`0xa9059cbb`); absent for plain transfers. */
  selector?: `0x${string}`;
  /**
   * The decoded call: bigint for integers, checksummed address strings, booleans, hex strings; args keyed by ABI
   * parameter name (unnamed parameters by position, `"0"`, `"1"`, …).
   */
  call?: CallFacts;
  /** The spender of an approval or permit (checksummed). */
  spender?: Address;
  /** The amount an approval or permit allows, in the token's base units. */
  approvalAmount?: bigint;
  /** The approval or permit is unlimited (2^256 − 1, or the token's equivalent). */
  unlimitedApproval?: boolean;
  /** EIP-712 typed data being signed: its primary type and domain. */
  typedData?: TypedDataFacts;
  /** An EIP-7702 authorisation: the contract (checksummed) the signing account would delegate its code to. */
  authorizationDelegate?: Address;
  /** An x402 payment (`type: 'x402_payment'`): the resource's host, the payee and how the gateway knows it. */
  x402?: X402Facts;
  /** Epoch milliseconds of the decision. The gateway passes its clock here; evaluation itself stays pure. */
  now?: number;
  /**
   * What simulating the transaction showed (the gateway's `eth_simulateV1` before the decision); absent when it was
   * not simulated. Conditions that read it fail closed without it: a rule that needs a simulation gets one or denies.
   */
  simulation?: SimulationFacts;
  /** Where the intent came from: the surface (`rest`, `rpc`, `mcp`, `x402`) and, for MCP, the tool that started it. */
  origin?: OriginFacts;
}

/** See {@link IntentFacts.origin}. */
export interface OriginFacts {
  readonly channel: string;
  /** The MCP tool that started the intent; absent on other surfaces. */
  readonly tool?: string;
}

/** See {@link IntentFacts.simulation}. */
export interface SimulationFacts {
  /** USD leaving the signer net of what arrives, in micro-USD; absent when an asset moved has no usable price. */
  readonly netOutflowUsd?: bigint;
  /** Approvals the transaction grants (token, spender, amount, unlimited). */
  readonly newApprovals: readonly {
    readonly asset: Address;
    readonly spender: Address;
    readonly amount?: bigint;
    readonly unlimited: boolean;
  }[];
  /** Every address assets were sent to. */
  readonly recipientsTouched: readonly Address[];
}

/**
 * How the payee of an x402 payment relates to its host: `listed` (the operator lists it for the host), `pinned` (the
 * payee first seen for the host, by an earlier payment) or `new` (no payee was seen for the host yet: this one is
 * being pinned). A payee other than the pinned or listed one never reaches policy: the gateway refuses it first.
 */
export type X402PayeeStatus = 'listed' | 'pinned' | 'new';
export const X402_PAYEE_STATUSES: readonly X402PayeeStatus[] = ['listed', 'pinned', 'new'];

/** See {@link IntentFacts.x402}. The per-request price is the intent's `valueUsd`, its token amount `amount`. */
export interface X402Facts {
  /** The resource URL's host name, lowercase, without port (`api.example.com`). */
  readonly host: string;
  /** The resource URL. */
  readonly resource: string;
  /** Who is paid (checksummed); also the intent's `recipient`. */
  readonly payee: Address;
  readonly payeeStatus: X402PayeeStatus;
}

/** The agent's rolling spend before this intent; see {@link IntentFacts.spend}. */
export interface SpendFacts {
  readonly dayUsd: bigint;
  readonly hourUsd: bigint;
  readonly dayCount: number;
  readonly hourCount: number;
}

/** A decoded contract call; see {@link IntentFacts.call}. */
export interface CallFacts {
  readonly functionName?: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/** EIP-712 facts; see {@link IntentFacts.typedData}. */
export interface TypedDataFacts {
  readonly primaryType: string;
  readonly domain: {
    readonly name?: string;
    readonly version?: string;
    readonly chainId?: number;
    readonly verifyingContract?: Address;
  };
}

/** The name of one fact. */
export type FactName = keyof IntentFacts;

/**
 * The facts {@link evaluate} accepts: any fact may be absent (later intent kinds, such as typed data or messages,
 * have no amount or recipient). A condition whose fact is absent answers `'unknown'`, and the evaluation fails
 * closed. A full {@link IntentFacts} is assignable to this type.
 */
export type AvailableFacts = { readonly [K in FactName]?: IntentFacts[K] | undefined };

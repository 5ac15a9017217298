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
}

/** The name of one fact. */
export type FactName = keyof IntentFacts;

/**
 * The facts {@link evaluate} accepts: any fact may be absent (later intent kinds, such as typed data or messages,
 * have no amount or recipient). A condition whose fact is absent answers `'unknown'`, and the evaluation fails
 * closed. A full {@link IntentFacts} is assignable to this type.
 */
export type AvailableFacts = { readonly [K in FactName]?: IntentFacts[K] | undefined };

import { hashMessage, hashTypedData, type Hex, type TypedDataDefinition } from 'viem';

/**
 * What a ticket lets the signer do. `transaction` signs an EIP-1559 transaction; `typed_data` an EIP-712 message
 * (`eth_signTypedData_v4`); `personal_sign` an EIP-191 version 0x45 message.
 */
export type SignOperation = 'transaction' | 'typed_data' | 'personal_sign';
export const SIGN_OPERATIONS: readonly SignOperation[] = ['transaction', 'typed_data', 'personal_sign'];

/**
 * A signing ticket: the gateway's Ed25519-signed statement (compact JWS, `alg: EdDSA`, header `kid` naming the
 * gateway ticket key) that one exact digest may be signed by one key, for one intent on one chain, before `exp`.
 * The signer verifies it, recomputes the digest from the payload it is handed, and never accepts the same `jti` twice.
 */
export interface TicketClaims {
  /** Protocol version of the claims. */
  v: 1;
  /** Unique ticket id; the signer's replay journal keys on it. */
  jti: string;
  /** Intent id the signature is for (audit correlation). */
  iid: string;
  /** Chain id the transaction must carry (for typed data: the domain's chainId, if it has one). */
  cid: number;
  /** Signer key id (the key's checksummed address). */
  kid: string;
  /**
   * Digest of exactly what is signed: {@link transactionDigest} of the unsigned transaction,
   * {@link typedDataDigest} of the typed data, or {@link messageDigest} of the message.
   */
  dig: Hex;
  /** Issued-at and expiry, seconds since the epoch. */
  iat: number;
  exp: number;
  /**
   * The operation. Absent means `transaction`, so tickets minted before typed data and messages existed keep their
   * exact shape; the issuer sets it only for the other two.
   */
  op?: Exclude<SignOperation, 'transaction'>;
  /**
   * Nonce mode of a transaction ticket. Absent means `new`: the transaction's nonce must not carry a different
   * transaction the signer already signed. `replace` says the gateway knowingly replaces what is at that nonce (a
   * speed-up, or a signature it dropped before storing it); `cancel` the same, but the transaction must be a
   * zero-value transfer to the key itself with no data. Only on transaction tickets (never with `op`).
   */
  nm?: Exclude<NonceMode, 'new'>;
}

/** How a transaction ticket relates to what the signer already signed at its nonce (see {@link TicketClaims.nm}). */
export type NonceMode = 'new' | 'replace' | 'cancel';
export const NONCE_MODES: readonly NonceMode[] = ['new', 'replace', 'cancel'];

export const TICKET_TYPE = 'clawd402-ticket+jws';
/** The longest lifetime a signer accepts for a ticket (exp - iat), in seconds. */
export const MAX_TICKET_LIFETIME_SECONDS = 60;

/**
 * EIP-712 typed data as it crosses the socket: the `eth_signTypedData_v4` JSON. Integers may be JSON numbers or
 * decimal strings; `types` may include `EIP712Domain` (derived from `domain` if it does not).
 */
export interface WireTypedData {
  domain: Record<string, unknown>;
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  message: Record<string, unknown>;
}

/** The digest a `typed_data` ticket binds: the EIP-712 hash (`\x19\x01 ‖ domainSeparator ‖ hashStruct(message)`). */
export function typedDataDigest(typedData: WireTypedData): Hex {
  return hashTypedData(typedData as unknown as TypedDataDefinition);
}

/**
 * The digest a `personal_sign` ticket binds: EIP-191 `keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ message)`
 * of the message bytes (hex).
 */
export function messageDigest(message: Hex): Hex {
  return hashMessage({ raw: message });
}

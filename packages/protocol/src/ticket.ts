import type { Hex } from 'viem';

/**
 * A signing ticket: the gateway's Ed25519-signed statement (compact JWS, `alg: EdDSA`, header `kid` naming the
 * gateway ticket key) that one exact digest may be signed by one key, for one intent on one chain, before `exp`.
 * The signer verifies it, recomputes the digest from the transaction, and never accepts the same `jti` twice.
 */
export interface TicketClaims {
  /** Protocol version of the claims. */
  v: 1;
  /** Unique ticket id; the signer's replay journal keys on it. */
  jti: string;
  /** Intent id the signature is for (audit correlation). */
  iid: string;
  /** Chain id the transaction must carry. */
  cid: number;
  /** Signer key id (the key's checksummed address). */
  kid: string;
  /** Digest of the exact unsigned transaction: keccak256 of its serialisation. */
  dig: Hex;
  /** Issued-at and expiry, seconds since the epoch. */
  iat: number;
  exp: number;
}

export const TICKET_TYPE = 'clawd402-ticket+jws';
/** The longest lifetime a signer accepts for a ticket (exp - iat), in seconds. */
export const MAX_TICKET_LIFETIME_SECONDS = 60;

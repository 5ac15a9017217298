import type { KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, errors as joseErrors } from 'jose';
import {
  MAX_TICKET_LIFETIME_SECONDS,
  SignerError,
  TICKET_TYPE,
  transactionDigest,
  type TicketClaims,
} from '@clawd402/protocol';
import type { Hex, TransactionSerializableEIP1559 } from 'viem';

/** Longest ticket string considered at all; a real one is ~450 characters. */
export const MAX_TICKET_CHARS = 4096;

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const DIGEST = /^0x[0-9a-fA-F]{64}$/;
const CLAIM_NAMES = 'cid,dig,exp,iat,iid,jti,kid,v';
const HEADER_NAMES = new Set(['alg', 'typ', 'kid']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface TicketVerifierOptions<K> {
  /** Gateway Ed25519 public keys; a ticket signed by any of them verifies (rotation). */
  gatewayKeys: readonly KeyObject[];
  /** Held signing keys by lower-cased address. */
  keys: ReadonlyMap<string, K>;
  /** Chains the signer signs for. */
  chains: ReadonlySet<number>;
  /** Clock in milliseconds since the epoch. */
  now?: () => number;
}

export interface VerifiedTicket<K> {
  claims: Readonly<TicketClaims>;
  key: K;
}

/**
 * Verifies a signing ticket against the transaction it is presented with. Every refusal is a SignerError with its
 * own code, checked in a fixed order: signature and header, claims shape, expiry, lifetime, key, chain allowlist,
 * chain match, digest. Reuse is not checked here: the caller records the `jti` synchronously after this resolves,
 * so no await sits between the reuse check and the record.
 */
export class TicketVerifier<K> {
  readonly #gatewayKeys: readonly KeyObject[];
  readonly #keys: ReadonlyMap<string, K>;
  readonly #chains: ReadonlySet<number>;
  readonly #now: () => number;

  constructor(options: TicketVerifierOptions<K>) {
    if (options.gatewayKeys.length === 0) throw new TypeError('at least one gateway key is required');
    this.#gatewayKeys = [...options.gatewayKeys];
    this.#keys = options.keys;
    this.#chains = options.chains;
    this.#now = options.now ?? Date.now;
  }

  async verify(ticket: string, tx: TransactionSerializableEIP1559): Promise<VerifiedTicket<K>> {
    const payload = await this.#verifySignature(ticket);
    const claims = parseClaims(payload);

    const now = Math.floor(this.#now() / 1000);
    if (claims.exp <= now) throw new SignerError('ticket_expired');
    // Also bound what is left of the lifetime: a ticket with `iat` in the future must not outlive the cap.
    if (claims.exp - claims.iat > MAX_TICKET_LIFETIME_SECONDS || claims.exp - now > MAX_TICKET_LIFETIME_SECONDS) {
      throw new SignerError('ticket_lifetime_too_long');
    }
    const key = this.#keys.get(claims.kid.toLowerCase());
    if (key === undefined) throw new SignerError('unknown_key');
    if (!this.#chains.has(claims.cid)) throw new SignerError('chain_not_allowed');
    if (tx.chainId !== claims.cid) throw new SignerError('ticket_chain_mismatch');
    // The signer hashes what it will sign, never a digest it is told.
    if (transactionDigest(tx) !== claims.dig.toLowerCase()) throw new SignerError('ticket_digest_mismatch');
    return { claims, key };
  }

  async #verifySignature(ticket: string): Promise<Uint8Array> {
    if (typeof ticket !== 'string' || ticket.length === 0 || ticket.length > MAX_TICKET_CHARS) {
      throw new SignerError('ticket_malformed');
    }
    // Header checks come before any key is tried, so a hostile header gets the same answer whatever the keys are.
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(ticket) as Record<string, unknown>;
    } catch {
      throw new SignerError('ticket_malformed');
    }
    if (
      header.alg !== 'EdDSA' ||
      header.typ !== TICKET_TYPE ||
      (header.kid !== undefined && typeof header.kid !== 'string') ||
      Object.keys(header).some((name) => !HEADER_NAMES.has(name))
    ) {
      throw new SignerError('ticket_malformed');
    }
    for (const key of this.#gatewayKeys) {
      try {
        const { payload } = await compactVerify(ticket, key, { algorithms: ['EdDSA'] });
        return payload;
      } catch (error) {
        if (error instanceof joseErrors.JWSSignatureVerificationFailed) continue;
        throw new SignerError('ticket_malformed');
      }
    }
    throw new SignerError('ticket_bad_signature');
  }
}

/** Parse and freeze the claims of a verified ticket; anything off-shape is `ticket_malformed`. */
export function parseClaims(payload: Uint8Array): Readonly<TicketClaims> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload));
  } catch {
    throw new SignerError('ticket_malformed');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SignerError('ticket_malformed');
  const c = value as Record<string, unknown>;
  const ok =
    Object.keys(c).sort().join(',') === CLAIM_NAMES &&
    c.v === 1 &&
    isBoundedString(c.jti, 128) &&
    isBoundedString(c.iid, 256) &&
    Number.isSafeInteger(c.cid) &&
    (c.cid as number) >= 1 &&
    Number.isSafeInteger(c.iat) &&
    (c.iat as number) >= 0 &&
    Number.isSafeInteger(c.exp) &&
    (c.exp as number) >= 0 &&
    typeof c.kid === 'string' &&
    ADDRESS.test(c.kid) &&
    typeof c.dig === 'string' &&
    DIGEST.test(c.dig);
  if (!ok) throw new SignerError('ticket_malformed');
  return Object.freeze({
    v: 1,
    jti: c.jti as string,
    iid: c.iid as string,
    cid: c.cid as number,
    kid: c.kid as string,
    dig: c.dig as Hex,
    iat: c.iat as number,
    exp: c.exp as number,
  });
}

function isBoundedString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

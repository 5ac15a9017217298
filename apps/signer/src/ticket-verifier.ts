import { verify as verifySignature, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import {
  MAX_TICKET_LIFETIME_SECONDS,
  SignerError,
  TICKET_TYPE,
  type NonceMode,
  type SignOperation,
  type TicketClaims,
} from '@clawd402/protocol';
import type { Hex } from 'viem';

/** Longest ticket string considered at all; a real one is ~450 characters. */
export const MAX_TICKET_CHARS = 4096;

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const DIGEST = /^0x[0-9a-fA-F]{64}$/;
const CLAIM_NAMES = 'cid,dig,exp,iat,iid,jti,kid,v';
const CLAIM_NAMES_WITH_OP = 'cid,dig,exp,iat,iid,jti,kid,op,v';
const CLAIM_NAMES_WITH_NONCE_MODE = 'cid,dig,exp,iat,iid,jti,kid,nm,v';
const TICKET_OPERATIONS = new Set(['typed_data', 'personal_sign']);
const TICKET_NONCE_MODES = new Set(['replace', 'cancel']);
const HEADER_NAMES = new Set(['alg', 'typ', 'kid']);
/** One compact JWS segment: base64url, unpadded (RFC 7515 §2), and not a length no encoding produces. */
const SEGMENT = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What is about to be signed, as the signer itself computed it. */
export interface SigningPayload {
  operation: SignOperation;
  /** The chain the payload names (the transaction's, the typed data domain's), or null when it names none. */
  chainId: number | null;
  /** The signer's own digest of the payload. */
  digest: Hex;
}

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
  /** The ticket's operation (`transaction` when the claims carry no `op`). */
  operation: SignOperation;
  /** The ticket's nonce mode (`new` when the claims carry no `nm`). */
  nonceMode: NonceMode;
}

/**
 * Verifies a signing ticket against the payload it is presented with. Every refusal is a SignerError with its own
 * code, checked in a fixed order: signature and header, claims shape, expiry, lifetime, key, chain allowlist,
 * operation, chain match, digest. Reuse is not checked here: the caller records the `jti` synchronously after this
 * resolves, so no await sits between the reuse check and the record.
 */
export class TicketVerifier<K> {
  #gatewayKeys: readonly KeyObject[];
  readonly #keys: ReadonlyMap<string, K>;
  readonly #chains: ReadonlySet<number>;
  readonly #now: () => number;

  constructor(options: TicketVerifierOptions<K>) {
    this.#gatewayKeys = ed25519PublicKeys(options.gatewayKeys);
    this.#keys = options.keys;
    this.#chains = options.chains;
    this.#now = options.now ?? Date.now;
  }

  /** Replace the trusted gateway keys (a rotation picked up without a restart). */
  setGatewayKeys(keys: readonly KeyObject[]): void {
    this.#gatewayKeys = ed25519PublicKeys(keys);
  }

  async verify(ticket: string, payload: SigningPayload): Promise<VerifiedTicket<K>> {
    const claims = parseClaims(await this.#verifySignature(ticket));

    const now = Math.floor(this.#now() / 1000);
    if (claims.exp <= now) throw new SignerError('ticket_expired');
    // Also bound what is left of the lifetime: a ticket with `iat` in the future must not outlive the cap.
    if (claims.exp - claims.iat > MAX_TICKET_LIFETIME_SECONDS || claims.exp - now > MAX_TICKET_LIFETIME_SECONDS) {
      throw new SignerError('ticket_lifetime_too_long');
    }
    const key = this.#keys.get(claims.kid.toLowerCase());
    if (key === undefined) throw new SignerError('unknown_key');
    if (!this.#chains.has(claims.cid)) throw new SignerError('chain_not_allowed');
    const operation: SignOperation = claims.op ?? 'transaction';
    if (operation !== payload.operation) throw new SignerError('ticket_operation_mismatch');
    if (payload.chainId !== null && payload.chainId !== claims.cid) throw new SignerError('ticket_chain_mismatch');
    // The signer hashes what it will sign, never a digest it is told.
    if (payload.digest.toLowerCase() !== claims.dig.toLowerCase()) throw new SignerError('ticket_digest_mismatch');
    return { claims, key, operation, nonceMode: claims.nm ?? 'new' };
  }

  /**
   * The compact JWS check (RFC 7515 §5.2) for the one shape a ticket has: three base64url segments, a protected header
   * of exactly `alg: EdDSA`, the ticket `typ` and an optional `kid`, and an Ed25519 signature over `header.payload` by
   * one of the gateway keys. The signature is checked with `node:crypto`'s synchronous `verify`, not jose's
   * `compactVerify`: jose 6 verifies through WebCrypto, whose asynchronous job takes about 1.7 times the CPU on Node 20
   * (docs/benchmarks.md, nineteenth round), once per signature the signer makes. jose still parses the header.
   */
  async #verifySignature(ticket: string): Promise<Uint8Array> {
    if (typeof ticket !== 'string' || ticket.length === 0 || ticket.length > MAX_TICKET_CHARS) {
      throw new SignerError('ticket_malformed');
    }
    const segments = ticket.split('.');
    if (segments.length !== 3 || !segments.every((segment) => SEGMENT.test(segment))) {
      throw new SignerError('ticket_malformed');
    }
    // Header checks come before any key is tried, so a hostile header gets the same answer whatever the keys are.
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(ticket);
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
    const [encodedHeader, encodedPayload, encodedSignature] = segments as [string, string, string];
    const signingInput = Buffer.from(`${encodedHeader}.${encodedPayload}`);
    const signature = Buffer.from(encodedSignature, 'base64url');
    for (const key of this.#gatewayKeys) {
      let valid: boolean;
      try {
        valid = verifySignature(null, signingInput, key, signature);
      } catch {
        throw new SignerError('ticket_malformed');
      }
      if (valid) return Buffer.from(encodedPayload, 'base64url');
    }
    throw new SignerError('ticket_bad_signature');
  }
}

/**
 * The gateway keys, each an Ed25519 public key. `node:crypto`'s `verify(null, …)` picks its algorithm from the key, so
 * this is what binds a ticket's `alg: EdDSA` to Ed25519: an RSA or EC key here would check some other scheme.
 */
function ed25519PublicKeys(keys: readonly KeyObject[]): readonly KeyObject[] {
  if (keys.length === 0) throw new TypeError('at least one gateway key is required');
  for (const key of keys) {
    if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519')
      throw new TypeError('gateway keys must be Ed25519 public keys');
  }
  return [...keys];
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
  const names = Object.keys(c).sort().join(',');
  const ok =
    (names === CLAIM_NAMES ||
      (names === CLAIM_NAMES_WITH_OP && TICKET_OPERATIONS.has(c.op as string)) ||
      (names === CLAIM_NAMES_WITH_NONCE_MODE && TICKET_NONCE_MODES.has(c.nm as string))) &&
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
    ...(c.op === undefined ? {} : { op: c.op as 'typed_data' | 'personal_sign' }),
    ...(c.nm === undefined ? {} : { nm: c.nm as 'replace' | 'cancel' }),
  });
}

function isBoundedString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

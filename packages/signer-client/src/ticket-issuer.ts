import { KeyObject, randomUUID, sign, type webcrypto } from 'node:crypto';
import {
  MAX_TICKET_LIFETIME_SECONDS,
  NONCE_MODES,
  SIGN_OPERATIONS,
  TICKET_TYPE,
  type NonceMode,
  type SignOperation,
  type TicketClaims,
} from '@clawd402/protocol';
import type { Hex } from 'viem';

export interface TicketIssuerOptions {
  /** The gateway's Ed25519 ticket private key (see {@link loadTicketPrivateKey}). */
  privateKey: KeyObject | webcrypto.CryptoKey;
  /** Identifier of the ticket key, carried as the JWS header `kid` (for rotation and audit). */
  keyId: string;
  /** Seconds a ticket stays valid; at most MAX_TICKET_LIFETIME_SECONDS. Default 30. */
  lifetimeSeconds?: number;
  /** Clock in milliseconds since the epoch. Defaults to Date.now; tests inject one. */
  now?: () => number;
  /** Nonce mode of transaction tickets that do not name one (default `new`); see {@link TicketIssuer.withNonceMode}. */
  nonceMode?: NonceMode;
}

export interface IssueTicketParams {
  /** The intent the signature is for. */
  intentId: string;
  /** Chain id the transaction carries. */
  chainId: number;
  /** The signer key id (checksummed address) that is to sign. */
  signerKeyId: string;
  /**
   * The digest of exactly what the signer will be handed: `transactionDigest(tx)`, `typedDataDigest(typedData)` or
   * `messageDigest(message)`.
   */
  digest: Hex;
  /** What the ticket allows. Default `transaction`. */
  operation?: SignOperation;
  /**
   * For a transaction: `new` (default) — its nonce must not carry a different transaction the signer already signed;
   * `replace` — it knowingly replaces what is at that nonce (a speed-up); `cancel` — the same, for a zero-value
   * transfer to the key itself. Ignored for the other operations.
   */
  nonceMode?: NonceMode;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const DIGEST = /^0x[0-9a-fA-F]{64}$/;

/**
 * Mints signing tickets: compact JWS (`alg: EdDSA`, `typ: clawd402-ticket+jws`) over {@link TicketClaims}, each with
 * a fresh random `jti`. One ticket authorises one signature of one digest; the signer refuses it a second time.
 *
 * The JWS is put together here (RFC 7515 §7.1: base64url header, `.`, base64url payload, `.`, base64url signature)
 * and signed with `node:crypto`'s synchronous Ed25519, not jose's `CompactSign`: jose 6 signs through WebCrypto, whose
 * asynchronous job costs about twice the CPU on Node 20 (docs/benchmarks.md, nineteenth round), once per signed
 * intent. The output is the same standard JWS; jose's `compactVerify` accepts it (ticket-issuer.test.ts).
 *
 * @example
 * const issuer = new TicketIssuer({ privateKey: loadTicketPrivateKey(pem), keyId: 'gw-2025-01' });
 * const ticket = await issuer.issue({ intentId, chainId: 1, signerKeyId: from, digest: transactionDigest(tx) });
 * await signer.signTransaction({ ticket, transaction: toWireTransaction(tx) });
 */
export class TicketIssuer {
  readonly keyId: string;
  readonly lifetimeSeconds: number;
  readonly nonceMode: NonceMode;
  readonly #privateKey: KeyObject | webcrypto.CryptoKey;
  /** The same key as a KeyObject, for `node:crypto`'s `sign`. */
  readonly #signingKey: KeyObject;
  /** The protected header, base64url: the same for every ticket of this issuer. */
  readonly #header: string;
  readonly #now: () => number;

  constructor(options: TicketIssuerOptions) {
    const lifetime = options.lifetimeSeconds ?? 30;
    if (!Number.isSafeInteger(lifetime) || lifetime < 1 || lifetime > MAX_TICKET_LIFETIME_SECONDS) {
      throw new RangeError(`lifetimeSeconds must be an integer from 1 to ${MAX_TICKET_LIFETIME_SECONDS}`);
    }
    if (typeof options.keyId !== 'string' || options.keyId.length === 0 || options.keyId.length > 128) {
      throw new TypeError('keyId must be a non-empty string of at most 128 characters');
    }
    assertEd25519PrivateKey(options.privateKey);
    const nonceMode = options.nonceMode ?? 'new';
    if (!NONCE_MODES.includes(nonceMode)) throw new TypeError(`nonceMode must be one of ${NONCE_MODES.join(', ')}`);
    this.nonceMode = nonceMode;
    this.keyId = options.keyId;
    this.lifetimeSeconds = lifetime;
    this.#privateKey = options.privateKey;
    this.#signingKey =
      options.privateKey instanceof KeyObject ? options.privateKey : KeyObject.from(options.privateKey);
    this.#header = base64url(JSON.stringify({ alg: 'EdDSA', typ: TICKET_TYPE, kid: this.keyId }));
    this.#now = options.now ?? Date.now;
  }

  /**
   * The same issuer (key, id, lifetime, clock) minting transaction tickets in `mode` unless a call names another:
   * hand it to code that signs only replacements (`replace`) or cancellations (`cancel`) at nonces already used.
   */
  withNonceMode(mode: NonceMode): TicketIssuer {
    return new TicketIssuer({
      privateKey: this.#privateKey,
      keyId: this.keyId,
      lifetimeSeconds: this.lifetimeSeconds,
      now: this.#now,
      nonceMode: mode,
    });
  }

  /** Mint a ticket for one signature. Resolves to the compact JWS string. */
  async issue(params: IssueTicketParams): Promise<string> {
    if (typeof params.intentId !== 'string' || params.intentId.length === 0)
      throw new TypeError('intentId must be a non-empty string');
    if (!Number.isSafeInteger(params.chainId) || params.chainId < 1)
      throw new TypeError('chainId must be a positive integer');
    if (typeof params.signerKeyId !== 'string' || !ADDRESS.test(params.signerKeyId)) {
      throw new TypeError('signerKeyId must be an address');
    }
    if (typeof params.digest !== 'string' || !DIGEST.test(params.digest))
      throw new TypeError('digest must be 32 bytes of hex');
    const operation = params.operation ?? 'transaction';
    if (!SIGN_OPERATIONS.includes(operation))
      throw new TypeError(`operation must be one of ${SIGN_OPERATIONS.join(', ')}`);
    const nonceMode = params.nonceMode ?? this.nonceMode;
    if (!NONCE_MODES.includes(nonceMode)) throw new TypeError(`nonceMode must be one of ${NONCE_MODES.join(', ')}`);
    const iat = Math.floor(this.#now() / 1000);
    const claims: TicketClaims = {
      v: 1,
      jti: randomUUID(),
      iid: params.intentId,
      cid: params.chainId,
      kid: params.signerKeyId,
      dig: params.digest.toLowerCase() as Hex,
      iat,
      exp: iat + this.lifetimeSeconds,
      // A transaction ticket has no `op`: its claims stay exactly what signers before typed data accept.
      ...(operation === 'transaction' ? {} : { op: operation }),
      // Likewise `nm` only for a transaction that replaces or cancels: a `new` ticket keeps the original shape.
      ...(operation === 'transaction' && nonceMode !== 'new' ? { nm: nonceMode } : {}),
    };
    const signingInput = `${this.#header}.${base64url(JSON.stringify(claims))}`;
    return `${signingInput}.${sign(null, Buffer.from(signingInput), this.#signingKey).toString('base64url')}`;
  }
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

function assertEd25519PrivateKey(key: unknown): void {
  if (key === null || typeof key !== 'object') throw new TypeError('privateKey must be a KeyObject or CryptoKey');
  const tag = (key as { [Symbol.toStringTag]?: string })[Symbol.toStringTag];
  if (tag === 'KeyObject') {
    const k = key as KeyObject;
    if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519')
      throw new TypeError('privateKey must be an Ed25519 private key');
    return;
  }
  if (tag === 'CryptoKey') {
    const k = key as webcrypto.CryptoKey;
    if (k.type !== 'private' || k.algorithm.name !== 'Ed25519')
      throw new TypeError('privateKey must be an Ed25519 private key');
    return;
  }
  throw new TypeError('privateKey must be a KeyObject or CryptoKey');
}

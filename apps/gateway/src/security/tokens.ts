import { createPublicKey, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { LRUCache } from 'lru-cache';
import { Clawd402Error } from '@clawd402/protocol';
import { loadRsaPrivateKey, loadRsaPublicKey, rsaJwkThumbprint, rsaPublicJwk, type RsaPublicJwk } from './jwt-keys.ts';
import { StrictJsonError, parseStrictJson } from './jwt-strict-json.ts';
import { isUuid } from '../lib/uuid.ts';

import { USER_ROLES, type Principal, type UserRole } from '../domain/principal.ts';

export {
  USER_ROLES,
  type AgentPrincipal,
  type Principal,
  type UserPrincipal,
  type UserRole,
} from '../domain/principal.ts';

export interface TokenServiceOptions {
  /** Current RSA signing key (PKCS8 PEM), at least 2048 bits. */
  privateKeyPem: string;
  /** Keys still accepted during a rotation overlap (SPKI PEM); never used to sign. */
  previousPublicKeyPems?: string[];
  issuer: string;
  audience: string;
  expirySeconds: number;
}

/** Longest token looked at; a real one is about 700 characters. Longer ones are refused before any decoding. */
export const MAX_TOKEN_CHARS = 4096;
/** Seconds of clock skew allowed on `exp`, `nbf` and `iat`. */
export const CLOCK_TOLERANCE_SECONDS = 5;
/** Tokens that passed every check, remembered by their exact text (least recently used forgotten first). */
const VERIFIED_TOKENS = 4096;

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const HEADER_MEMBERS = new Set(['alg', 'typ', 'kid']);
const COMMON_CLAIMS = ['sub', 'role', 'iss', 'aud', 'exp', 'iat', 'jti'] as const;
const AGENT_CLAIMS = new Set<string>([...COMMON_CLAIMS, 'akid', 'nbf']);
const USER_CLAIMS = new Set<string>([...COMMON_CLAIMS, 'sid', 'nbf']);
const USER_ROLE_SET: ReadonlySet<string> = new Set(USER_ROLES);
const utf8 = new TextDecoder('utf-8', { fatal: true });

interface VerificationKey {
  kid: string;
  key: KeyObject;
  /** RS256 signatures are exactly as long as the modulus. */
  signatureBytes: number;
  jwk: RsaPublicJwk;
}

/** A refusal reason, for the log only (it becomes `error.cause.message`); it never echoes token content. */
class Refusal extends Error {
  override name = 'TokenRefusal';
}

/**
 * RS256 access tokens. Issues `{alg:'RS256', typ:'JWT', kid}` tokens with the claims `sub`, `role`, `iss`, `aud`,
 * `exp`, `iat`, `jti` and `akid` (agents) or `sid` (users), and nothing personal.
 *
 * `verify` refuses, in this order and before any key is used: tokens over 4096 characters; anything but three
 * canonical base64url segments; a header or payload that is not strict JSON (duplicate member names at any depth
 * included); a header with any member but `alg`, `typ`, `kid`, an `alg` other than exactly `RS256`, a `typ` other than
 * `JWT`, or a `kid` that is not one of this gateway's own keys (looked up in a Map: keys are never taken from the token,
 * and nothing is ever fetched). Then jose's `jwtVerify` checks the signature with that one key, pinned to RS256, plus
 * `iss`, `aud`, `exp`, `nbf` and `iat` with 5 s of skew. Last, the claims must have exactly the principal's shape.
 * Every failure is `Clawd402Error('unauthenticated')`; the reason is in `error.cause` only.
 *
 * A token that passed all of it is remembered by its exact text (VERIFIED_TOKENS of them): the same bytes under the
 * same keys pass the same checks, so an agent's next request with it costs a lookup instead of an RSA verification
 * (the way Envoy's jwt_authn caches). Only its expiry is checked again, with the same skew; anything else — one
 * character changed, another kid — is a different text and goes through every check. What a token cannot carry (a
 * revoked API key, an ended session) is still checked on every request by the auth plugin.
 */
export class TokenService {
  /** The kid of the current signing key: its RFC 7638 JWK thumbprint. */
  readonly keyId: string;
  readonly #options: Readonly<Pick<TokenServiceOptions, 'issuer' | 'audience' | 'expirySeconds'>>;
  readonly #privateKey: KeyObject;
  readonly #keys: ReadonlyMap<string, VerificationKey>;
  readonly #verified = new LRUCache<string, { principal: Principal; exp: number }>({ max: VERIFIED_TOKENS });

  constructor(options: TokenServiceOptions) {
    if (!Number.isSafeInteger(options.expirySeconds) || options.expirySeconds <= 0)
      throw new TypeError('expirySeconds must be a positive integer');
    if (!options.issuer || !options.audience) throw new TypeError('issuer and audience are required');
    this.#options = Object.freeze({
      issuer: options.issuer,
      audience: options.audience,
      expirySeconds: options.expirySeconds,
    });
    this.#privateKey = loadRsaPrivateKey(options.privateKeyPem);
    const current = verificationKey(this.#privateKey);
    this.keyId = current.kid;
    const keys = new Map<string, VerificationKey>([[current.kid, current]]);
    for (const pem of options.previousPublicKeyPems ?? []) {
      const previous = verificationKey(loadRsaPublicKey(pem));
      if (!keys.has(previous.kid)) keys.set(previous.kid, previous); // the current key listed again is harmless
    }
    this.#keys = keys;
  }

  /** An access token for an agent, in exchange for a valid API key. */
  async issueAgentToken(agentId: string, apiKeyId: string): Promise<{ token: string; expiresIn: number }> {
    if (!isUuid(agentId) || !isUuid(apiKeyId)) throw new TypeError('agentId and apiKeyId must be lower-case UUIDs');
    return this.#issue(`agent:${agentId}`, { role: 'agent', akid: apiKeyId });
  }

  /** An access token for a human user's session. */
  async issueUserToken(
    userId: string,
    role: UserRole,
    sessionId: string,
  ): Promise<{ token: string; expiresIn: number }> {
    if (!isUuid(userId) || !isUuid(sessionId)) throw new TypeError('userId and sessionId must be lower-case UUIDs');
    if (!USER_ROLE_SET.has(role)) throw new TypeError('unknown user role');
    return this.#issue(`user:${userId}`, { role, sid: sessionId });
  }

  async #issue(sub: string, claims: Record<string, string>): Promise<{ token: string; expiresIn: number }> {
    const { issuer, audience, expirySeconds } = this.#options;
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.keyId })
      .setSubject(sub)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + expirySeconds)
      .setJti(randomUUID())
      .sign(this.#privateKey);
    return { token, expiresIn: expirySeconds };
  }

  /** Verify a bearer token. Any failure is `unauthenticated`; the reason is in `error.cause` (for the log). */
  async verify(token: string): Promise<Principal> {
    const known = this.#verified.get(token);
    // jose's test: expired once now − skew reaches exp (whole seconds).
    if (known && Math.floor(Date.now() / 1000) - CLOCK_TOLERANCE_SECONDS < known.exp) return known.principal;
    if (known) this.#verified.delete(token); // expired: the full check below refuses it with its reason
    try {
      const verified = await this.#verify(token);
      this.#verified.set(token, verified);
      return verified.principal;
    } catch (error) {
      // Fail closed: anything thrown, even an unexpected error, is a refusal. The reason names the check, never the
      // token's content.
      const cause =
        error instanceof Refusal
          ? error
          : error instanceof joseErrors.JWTClaimValidationFailed
            ? new Refusal(`jose: ${error.code} (${error.claim} ${error.reason})`)
            : error instanceof joseErrors.JOSEError
              ? new Refusal(`jose: ${error.code}`)
              : new Refusal(`unexpected: ${(error as Error)?.name ?? typeof error}`, { cause: error });
      throw new Clawd402Error('unauthenticated', undefined, { cause });
    }
  }

  async #verify(token: string): Promise<{ principal: Principal; exp: number }> {
    if (typeof token !== 'string') throw new Refusal('not a string');
    if (token.length > MAX_TOKEN_CHARS) throw new Refusal('token too long');
    const segments = token.split('.');
    if (segments.length !== 3) throw new Refusal('not three segments');
    const [headerBytes, payloadBytes, signatureBytes] = segments.map(decodeSegment) as [Buffer, Buffer, Buffer];

    // The header decides nothing on its own: it may only name RS256 and one of our own key ids.
    const header = parseJsonObject(headerBytes, 'header');
    for (const name of Object.keys(header))
      if (!HEADER_MEMBERS.has(name)) throw new Refusal('header member not allowed');
    if (header.alg !== 'RS256') throw new Refusal('alg not RS256');
    if (header.typ !== 'JWT') throw new Refusal('typ not JWT');
    if (typeof header.kid !== 'string') throw new Refusal('kid missing');
    const key = this.#keys.get(header.kid);
    if (!key) throw new Refusal('unknown kid');
    if (signatureBytes.length !== key.signatureBytes) throw new Refusal('signature length');

    // Parsed strictly here so duplicate claims are refused; jose parses the same bytes again after the signature.
    const claims = parseJsonObject(payloadBytes, 'payload');

    const { issuer, audience, expirySeconds } = this.#options;
    await jwtVerify(token, key.key, {
      algorithms: ['RS256'],
      issuer,
      audience,
      typ: 'JWT',
      requiredClaims: [...COMMON_CLAIMS],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      maxTokenAge: expirySeconds, // also refuses an `iat` in the future
    });
    return { principal: principalFromClaims(claims, expirySeconds), exp: claims.exp as number };
  }

  /** The public keys (current first, then previous) as a JWK Set, for `GET /.well-known/jwks.json`. */
  jwks(): { keys: JsonWebKey[] } {
    return { keys: [...this.#keys.values()].map(({ kid, jwk }) => ({ ...jwk, kid, alg: 'RS256', use: 'sig' })) };
  }
}

function verificationKey(key: KeyObject): VerificationKey {
  return {
    kid: rsaJwkThumbprint(key),
    // Only the public half verifies. jose caches the CryptoKey it derives per KeyObject, so no key is imported twice.
    key: key.type === 'private' ? createPublicKey(key) : key,
    signatureBytes: Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8),
    jwk: rsaPublicJwk(key),
  };
}

/** A segment must be non-empty, canonical base64url: re-encoding what it decodes to gives the same text. */
function decodeSegment(segment: string): Buffer {
  if (!SEGMENT.test(segment)) throw new Refusal('segment not base64url');
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.toString('base64url') !== segment) throw new Refusal('segment not canonical base64url');
  return bytes;
}

function parseJsonObject(bytes: Buffer, what: 'header' | 'payload'): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new Refusal(`${what} not UTF-8`);
  }
  let value: unknown;
  try {
    value = parseStrictJson(text, { maxDepth: 4 });
  } catch (error) {
    if (error instanceof StrictJsonError) throw new Refusal(`${what} not strict JSON: ${error.reason}`);
    throw error;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Refusal(`${what} not a JSON object`);
  return value as Record<string, unknown>;
}

/** The claims must have exactly one principal's shape; jose has already checked iss, aud, exp, nbf and iat. */
function principalFromClaims(claims: Record<string, unknown>, expirySeconds: number): Principal {
  const { sub, role, aud, exp, iat, nbf, jti } = claims;
  if (typeof sub !== 'string' || typeof jti !== 'string' || !isUuid(jti)) throw new Refusal('sub or jti malformed');
  if (typeof aud !== 'string') throw new Refusal('aud not a single string');
  if (!Number.isSafeInteger(exp) || !Number.isSafeInteger(iat) || (nbf !== undefined && !Number.isSafeInteger(nbf))) {
    throw new Refusal('time claims not integers');
  }
  const lifetime = (exp as number) - (iat as number);
  if (lifetime <= 0 || lifetime > expirySeconds) throw new Refusal('lifetime out of range');
  const names = Object.keys(claims);

  if (sub.startsWith('agent:')) {
    const agentId = sub.slice('agent:'.length);
    if (!isUuid(agentId)) throw new Refusal('agent sub malformed');
    if (role !== 'agent') throw new Refusal('agent token with a non-agent role');
    if (typeof claims.akid !== 'string' || !isUuid(claims.akid)) throw new Refusal('akid malformed');
    if (names.some((name) => !AGENT_CLAIMS.has(name))) throw new Refusal('claim not allowed for an agent');
    return Object.freeze({ kind: 'agent', agentId, apiKeyId: claims.akid, role: 'agent', tokenId: jti });
  }
  if (sub.startsWith('user:')) {
    const userId = sub.slice('user:'.length);
    if (!isUuid(userId)) throw new Refusal('user sub malformed');
    if (typeof role !== 'string' || !USER_ROLE_SET.has(role)) throw new Refusal('user token with a non-user role');
    if (typeof claims.sid !== 'string' || !isUuid(claims.sid)) throw new Refusal('sid malformed');
    if (names.some((name) => !USER_CLAIMS.has(name))) throw new Refusal('claim not allowed for a user');
    return Object.freeze({ kind: 'user', userId, role: role as UserRole, sessionId: claims.sid, tokenId: jti });
  }
  throw new Refusal('sub names no principal kind');
}

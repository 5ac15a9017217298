import { createPrivateKey, createPublicKey, createHash, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { Clawd402Error } from '@clawd402/protocol';

/** The principal a verified access token names. */
export interface Principal {
  kind: 'agent';
  agentId: string;
  apiKeyId: string;
  role: 'agent';
}

export interface TokenServiceOptions {
  privateKeyPem: string;
  issuer: string;
  audience: string;
  expirySeconds: number;
}

/**
 * RS256 access tokens signed with jose. Verification pins the algorithm, issuer, audience and required claims,
 * allows 5 s of clock skew, and only ever uses the gateway's own key: `jku`, `x5u`, `jwk` and unknown `kid` headers
 * are refused, never fetched.
 */
export class TokenService {
  readonly keyId: string;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(private readonly options: TokenServiceOptions) {
    this.privateKey = createPrivateKey(options.privateKeyPem);
    if (this.privateKey.asymmetricKeyType !== 'rsa') throw new Error('JWT key must be an RSA private key');
    const bits = this.privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new Error(`JWT RSA key has ${bits} bits; at least 2048 are required`);
    this.publicKey = createPublicKey(this.privateKey);
    const spki = this.publicKey.export({ type: 'spki', format: 'der' });
    this.keyId = createHash('sha256').update(spki).digest('base64url').slice(0, 16);
  }

  async issueAgentToken(agentId: string, apiKeyId: string): Promise<{ token: string; expiresIn: number }> {
    const token = await new SignJWT({ role: 'agent', akid: apiKeyId })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.keyId })
      .setSubject(`agent:${agentId}`)
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setIssuedAt()
      .setExpirationTime(`${this.options.expirySeconds}s`)
      .setJti(randomUUID())
      .sign(this.privateKey);
    return { token, expiresIn: this.options.expirySeconds };
  }

  /** Verify a bearer token; any failure is `unauthenticated` (the reason goes to the log, not the caller). */
  async verify(token: string): Promise<Principal> {
    const fail = (reason: string): never => {
      throw new Clawd402Error('unauthenticated', undefined, { cause: new Error(reason) });
    };
    if (token.length > 4096) fail('token too long');
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.publicKey, {
        algorithms: ['RS256'],
        issuer: this.options.issuer,
        audience: this.options.audience,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
        clockTolerance: 5,
        typ: 'JWT',
      });
      if (protectedHeader.kid !== this.keyId) fail('unknown kid');
      if ('jku' in protectedHeader || 'x5u' in protectedHeader || 'jwk' in protectedHeader || 'x5c' in protectedHeader) fail('key-bearing header');
      const sub = payload.sub!;
      if (payload.role !== 'agent' || !sub.startsWith('agent:') || typeof payload.akid !== 'string') fail('not an agent token');
      return { kind: 'agent', agentId: sub.slice('agent:'.length), apiKeyId: payload.akid as string, role: 'agent' };
    } catch (error) {
      if (error instanceof Clawd402Error) throw error;
      if (error instanceof joseErrors.JOSEError) fail(error.code);
      throw error;
    }
  }
}

/**
 * TokenService without a server: issuing, the principal shapes, key ids, rotation, and the claim checks that come
 * after the signature. Hostile tokens are signed with the service's own key, so each one is refused for the one
 * thing wrong with it, never for its signature. The HTTP side is in jwt-attacks.int.test.ts.
 */
import { describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, decodeJwt } from 'jose';
import { Clawd402Error } from '@clawd402/protocol';
import { TokenService, type TokenServiceOptions } from '../src/security/tokens.ts';
import { parseSpkiPemBlocks } from '../src/security/jwt-keys.ts';

const ISSUER = 'clawd402';
const AUDIENCE = 'clawd402-api';

function rsaKey(bits = 2048): { privateKey: KeyObject; privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    privateKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

const current = rsaKey();
const previous = rsaKey();
const options = (extra: Partial<TokenServiceOptions> = {}): TokenServiceOptions => ({
  privateKeyPem: current.privatePem,
  issuer: ISSUER,
  audience: AUDIENCE,
  expirySeconds: 900,
  ...extra,
});
const service = new TokenService(options());

const b64 = (text: string): string => Buffer.from(text).toString('base64url');
/** Sign exact header and payload JSON text with RS256, so tokens jose would not build can be built. */
function signRaw(header: string, payload: string, key: KeyObject = current.privateKey): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}
const now = (): number => Math.floor(Date.now() / 1000);
/** Fresh, valid claims for `principal` (its sub, role and session or key id), then `extra`. */
function freshClaims(principal: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const t = now();
  return { ...principal, iss: ISSUER, aud: AUDIENCE, iat: t, exp: t + 300, jti: randomUUID(), ...extra };
}
const agentClaims = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  freshClaims({ sub: `agent:${randomUUID()}`, role: 'agent', akid: randomUUID() }, extra);
const userClaims = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  freshClaims({ sub: `user:${randomUUID()}`, role: 'viewer', sid: randomUUID() }, extra);
const header = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: service.keyId, ...extra });
const token = (claims: Record<string, unknown>): string => signRaw(header(), JSON.stringify(claims));

async function refused(jwt: string, reason: RegExp, svc: TokenService = service): Promise<void> {
  await assert.rejects(svc.verify(jwt), (error: unknown) => {
    assert.ok(error instanceof Clawd402Error, 'a Clawd402Error');
    assert.equal(error.code, 'unauthenticated');
    assert.equal(
      error.message,
      new Clawd402Error('unauthenticated').message,
      'the message is the catalogue sentence; no reason leaks',
    );
    assert.ok(error.cause instanceof Error);
    assert.match(error.cause.message, reason);
    return true;
  });
}

describe('issuing', () => {
  test('an agent token carries exactly sub, role, akid, iss, aud, exp, iat, jti and the RS256/JWT/kid header', async () => {
    const agentId = randomUUID();
    const apiKeyId = randomUUID();
    const issued = await service.issueAgentToken(agentId, apiKeyId);
    assert.equal(issued.expiresIn, 900);
    assert.deepEqual(decodeProtectedHeader(issued.token), { alg: 'RS256', typ: 'JWT', kid: service.keyId });
    const claims = decodeJwt(issued.token);
    assert.deepEqual(Object.keys(claims).sort(), ['akid', 'aud', 'exp', 'iat', 'iss', 'jti', 'role', 'sub']);
    assert.equal(claims.sub, `agent:${agentId}`);
    assert.equal(claims.exp! - claims.iat!, 900);
    const principal = await service.verify(issued.token);
    assert.deepEqual(principal, { kind: 'agent', agentId, apiKeyId, role: 'agent', tokenId: claims.jti });
    assert.ok(Object.isFrozen(principal));
  });

  for (const role of ['owner', 'admin', 'operator', 'approver', 'viewer'] as const) {
    test(`a user token for role ${role} carries sid, not akid, and no email or name`, async () => {
      const userId = randomUUID();
      const sessionId = randomUUID();
      const issued = await service.issueUserToken(userId, role, sessionId);
      const claims = decodeJwt(issued.token);
      assert.deepEqual(Object.keys(claims).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'role', 'sid', 'sub']);
      assert.deepEqual(await service.verify(issued.token), {
        kind: 'user',
        userId,
        role,
        sessionId,
        tokenId: claims.jti,
      });
    });
  }

  test('each token has its own jti', async () => {
    const a = decodeJwt((await service.issueAgentToken(randomUUID(), randomUUID())).token);
    const b = decodeJwt((await service.issueAgentToken(randomUUID(), randomUUID())).token);
    assert.notEqual(a.jti, b.jti);
  });

  test('ids that verify would refuse are never signed', async () => {
    await assert.rejects(service.issueAgentToken('not-a-uuid', randomUUID()), TypeError);
    await assert.rejects(service.issueAgentToken(randomUUID(), randomUUID().toUpperCase()), TypeError);
    await assert.rejects(service.issueUserToken(randomUUID(), 'root' as never, randomUUID()), TypeError);
    await assert.rejects(service.issueUserToken(randomUUID(), 'agent' as never, randomUUID()), TypeError);
    await assert.rejects(service.issueUserToken(randomUUID(), 'owner', '../../etc'), TypeError);
  });
});

describe('keys', () => {
  test('keyId is the RFC 7638 thumbprint of the public key (equal to jose calculateJwkThumbprint)', async () => {
    const jwk = createPublicKey(current.privatePem).export({ format: 'jwk' });
    assert.equal(service.keyId, await calculateJwkThumbprint({ kty: 'RSA', n: jwk.n!, e: jwk.e! }, 'sha256'));
    assert.match(service.keyId, /^[A-Za-z0-9_-]{43}$/);
  });

  test('jwks() publishes only public members, with kid, alg RS256 and use sig', () => {
    const { keys } = service.jwks();
    assert.equal(keys.length, 1);
    assert.deepEqual(Object.keys(keys[0]!).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    assert.deepEqual(
      { ...keys[0], n: undefined },
      { kty: 'RSA', e: 'AQAB', n: undefined, kid: service.keyId, alg: 'RS256', use: 'sig' },
    );
  });

  test('jwks() hands out copies: mutating the answer changes nothing', async () => {
    const answer = service.jwks();
    answer.keys[0]!.kid = 'attacker';
    answer.keys.push({ kty: 'oct', k: 'AAAA' });
    assert.equal(service.jwks().keys.length, 1);
    assert.equal(service.jwks().keys[0]!.kid, service.keyId);
    const issued = await service.issueAgentToken(randomUUID(), randomUUID());
    await service.verify(issued.token);
  });

  test('rotation: a token from the previous key verifies while that key is listed, and its kid is published', async () => {
    const old = new TokenService(options({ privateKeyPem: previous.privatePem }));
    const oldToken = (await old.issueAgentToken(randomUUID(), randomUUID())).token;
    const rotated = new TokenService(options({ previousPublicKeyPems: [previous.publicPem] }));
    assert.equal((await rotated.verify(oldToken)).kind, 'agent');
    assert.deepEqual(
      rotated.jwks().keys.map((k) => k.kid),
      [rotated.keyId, old.keyId],
    );
    // New tokens are signed with the current key only.
    assert.equal(
      decodeProtectedHeader((await rotated.issueAgentToken(randomUUID(), randomUUID())).token).kid,
      rotated.keyId,
    );
  });

  test('rotation: once the previous key is no longer listed, its tokens are refused as an unknown kid', async () => {
    const old = new TokenService(options({ privateKeyPem: previous.privatePem }));
    const oldToken = (await old.issueAgentToken(randomUUID(), randomUUID())).token;
    await refused(oldToken, /^unknown kid$/);
  });

  test('a previous key cannot be used to sign: a token claiming the previous kid but signed by another key fails', async () => {
    const stranger = rsaKey();
    const rotated = new TokenService(options({ previousPublicKeyPems: [previous.publicPem] }));
    const oldKid = rotated.jwks().keys[1]!.kid!;
    const forged = signRaw(
      JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: oldKid }),
      JSON.stringify(agentClaims()),
      stranger.privateKey,
    );
    await refused(forged, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/, rotated);
  });

  test('the current key listed again as a previous key is harmless', () => {
    const svc = new TokenService(options({ previousPublicKeyPems: [current.publicPem] }));
    assert.equal(svc.jwks().keys.length, 1);
  });

  test('weak or wrong keys stop construction', () => {
    assert.throws(() => new TokenService(options({ privateKeyPem: rsaKey(1024).privatePem })), /at least 2048/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(
      () =>
        new TokenService(options({ privateKeyPem: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string })),
      /RSA/,
    );
    assert.throws(
      () => new TokenService(options({ previousPublicKeyPems: [rsaKey(1024).publicPem] })),
      /at least 2048/,
    );
    assert.throws(
      () =>
        new TokenService(
          options({ previousPublicKeyPems: [ec.publicKey.export({ type: 'spki', format: 'pem' }) as string] }),
        ),
      /RSA/,
    );
    assert.throws(() => new TokenService(options({ previousPublicKeyPems: [previous.privatePem] })), /SPKI/);
    assert.throws(() => new TokenService(options({ expirySeconds: 0 })), TypeError);
  });

  test('parseSpkiPemBlocks reads zero or more PUBLIC KEY blocks and refuses anything else', () => {
    assert.deepEqual(parseSpkiPemBlocks(''), []);
    assert.deepEqual(parseSpkiPemBlocks('\n  \n'), []);
    const two = parseSpkiPemBlocks(`${previous.publicPem}\n${current.publicPem}`);
    assert.equal(two.length, 2);
    assert.deepEqual(
      two.map(
        (pem) =>
          new TokenService(options({ privateKeyPem: rsaKey().privatePem, previousPublicKeyPems: [pem] })).jwks().keys
            .length,
      ),
      [2, 2],
    );
    assert.throws(() => parseSpkiPemBlocks(previous.privatePem), /PRIVATE KEY/);
    assert.throws(() => parseSpkiPemBlocks(`${previous.publicPem}\ngarbage`), /outside PEM/);
    assert.throws(() => parseSpkiPemBlocks(previous.publicPem.replace('-----END PUBLIC KEY-----', '')), /outside PEM/);
  });
});

describe('claims a token signed with the right key must still have the right shape for', () => {
  const CASES: [string, Record<string, unknown>, RegExp][] = [
    ['an agent sub with a user role', agentClaims({ role: 'owner' }), /non-agent role/],
    ['a user sub with the agent role', userClaims({ role: 'agent' }), /non-user role/],
    ['a user sub with an unknown role', userClaims({ role: 'root' }), /non-user role/],
    ['a user role written in another case', userClaims({ role: 'Owner' }), /non-user role/],
    [
      'an agent token carrying sid instead of akid',
      { ...agentClaims({ sid: randomUUID() }), akid: undefined },
      /akid malformed/,
    ],
    [
      'a user token carrying akid instead of sid',
      { ...userClaims({ akid: randomUUID() }), sid: undefined },
      /sid malformed/,
    ],
    ['an agent token carrying both akid and sid', agentClaims({ sid: randomUUID() }), /claim not allowed/],
    ['a claim with an email', userClaims({ email: 'a@b.c' }), /claim not allowed/],
    ['a sub naming no principal kind', agentClaims({ sub: `admin:${randomUUID()}` }), /no principal kind/],
    ['a sub without an id', agentClaims({ sub: 'agent:' }), /agent sub malformed/],
    ['a sub whose id is not a UUID', agentClaims({ sub: "agent:' OR 1=1 --" }), /agent sub malformed/],
    ['a sub as a number', agentClaims({ sub: 1 }), /sub/],
    ['a role missing', { ...agentClaims(), role: undefined }, /role missing|non-agent role/],
    ['a jti that is not a UUID', agentClaims({ jti: 'x' }), /jti malformed/],
    ['an audience array that includes ours', agentClaims({ aud: [AUDIENCE, 'other'] }), /aud not a single string/],
    ['exp as a string', agentClaims({ exp: String(now() + 300) }), /exp/],
    ['a fractional exp', agentClaims({ exp: now() + 300.5 }), /time claims not integers/],
    ['a lifetime longer than the configured expiry', agentClaims({ exp: now() + 901 }), /lifetime out of range/],
    ['exp before iat', agentClaims({ iat: now(), exp: now() - 1 }), /lifetime|ERR_JWT_EXPIRED/],
    ['an iat in the future', agentClaims({ iat: now() + 120, exp: now() + 400 }), /iat/],
    ['an iat older than the expiry', agentClaims({ iat: now() - 1000, exp: now() + 60 }), /ERR_JWT_EXPIRED|lifetime/],
    ['nbf in the future', agentClaims({ nbf: now() + 60 }), /nbf/],
    ['nbf not a number', agentClaims({ nbf: 'soon' }), /nbf/],
  ];
  for (const [name, claims, reason] of CASES) {
    test(name, async () => refused(token(claims), reason));
  }

  test('nbf in the past is accepted (it is a standard claim jose checks)', async () => {
    const claims = agentClaims({ nbf: now() - 10 });
    assert.equal((await service.verify(token(claims))).kind, 'agent');
  });

  test('control: the hand-built token without a defect verifies (so the refusals above are for their defect)', async () => {
    const claims = agentClaims();
    assert.deepEqual(await service.verify(token(claims)), {
      kind: 'agent',
      agentId: (claims.sub as string).slice(6),
      apiKeyId: claims.akid,
      role: 'agent',
      tokenId: claims.jti,
    });
  });
});

describe('a verified token is remembered by its exact text', () => {
  test('the same token verifies again to the same principal; a copy with one signature character changed is refused', async () => {
    const svc = new TokenService(options());
    const { token: jwt } = await svc.issueAgentToken(randomUUID(), randomUUID());
    const first = await svc.verify(jwt);
    assert.equal(await svc.verify(jwt), first, 'the second answer is the remembered principal');
    const [h, p, sig] = jwt.split('.') as [string, string, string];
    const flipped = `${h}.${p}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
    await refused(flipped, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/, svc);
  });

  test('a remembered token still expires: past exp and the skew it is refused as expired', async () => {
    const svc = new TokenService(options({ expirySeconds: 60 }));
    const { token: jwt } = await svc.issueAgentToken(randomUUID(), randomUUID());
    const exp = decodeJwt(jwt).exp!;
    assert.equal((await svc.verify(jwt)).kind, 'agent'); // remembered
    mock.timers.enable({ apis: ['Date'], now: (exp + 4) * 1000 });
    try {
      assert.equal((await svc.verify(jwt)).kind, 'agent', 'within the 5 s skew it still verifies');
      mock.timers.setTime((exp + 5) * 1000);
      await refused(jwt, /ERR_JWT_EXPIRED/, svc);
    } finally {
      mock.timers.reset();
    }
  });
});

describe('the shape of the token itself', () => {
  test('non-canonical base64url (unused trailing bits set) is refused: no second spelling of a signature', async () => {
    const good = token(agentClaims());
    const [h, p, s] = good.split('.') as [string, string, string];
    // 256 signature bytes encode to 342 characters whose last one carries 4 unused bits; set one of them.
    const last = s.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[alphabet.indexOf(last) | 1]!;
    assert.notEqual(twin, last);
    assert.deepEqual(
      Buffer.from(s.slice(0, -1) + twin, 'base64url'),
      Buffer.from(s, 'base64url'),
      'both spellings decode to the same bytes',
    );
    await refused(`${h}.${p}.${s.slice(0, -1)}${twin}`, /not canonical base64url/);
  });

  test('padding, standard base64 characters and whitespace are refused', async () => {
    const good = token(agentClaims());
    const [h, p, s] = good.split('.') as [string, string, string];
    await refused(`${h}=.${p}.${s}`, /segment not base64url/);
    await refused(`${h}.${p.replaceAll('_', '/').replaceAll('-', '+')}x+/.${s}`, /segment not base64url/);
    await refused(` ${good}`, /segment not base64url/);
    await refused(`${good}\n`, /segment not base64url/);
  });

  test('two, four and five segments, and empty segments, are refused', async () => {
    const good = token(agentClaims());
    const [h, p, s] = good.split('.') as [string, string, string];
    await refused(`${h}.${p}`, /not three segments/);
    await refused(`${good}.${s}`, /not three segments/);
    await refused(`${h}.${p}..${s}.x`, /not three segments/);
    await refused(`${h}.${p}.`, /segment not base64url/);
    await refused(`.${p}.${s}`, /segment not base64url/);
    await refused('', /not three segments/);
  });

  test('a header or payload that is not UTF-8, not JSON, or not an object is refused', async () => {
    const [, p, s] = token(agentClaims()).split('.') as [string, string, string];
    await refused(`${Buffer.from([0xff, 0xfe]).toString('base64url')}.${p}.${s}`, /header not UTF-8/);
    await refused(`${b64('not json')}.${p}.${s}`, /header not strict JSON: syntax/);
    await refused(`${b64('["RS256"]')}.${p}.${s}`, /header not a JSON object/);
    await refused(signRaw(header(), '"agent"'), /payload not a JSON object/);
    await refused(
      signRaw(header(), JSON.stringify({ a: { b: { c: { d: { e: 1 } } } } })),
      /payload not strict JSON: too_deep/,
    );
  });

  test('a typ other than JWT, or none, is refused', async () => {
    await refused(
      signRaw(JSON.stringify({ alg: 'RS256', kid: service.keyId }), JSON.stringify(agentClaims())),
      /typ not JWT/,
    );
    await refused(signRaw(header({ typ: 'jwt' }), JSON.stringify(agentClaims())), /typ not JWT/);
    await refused(signRaw(header({ typ: 'at+jwt' }), JSON.stringify(agentClaims())), /typ not JWT/);
  });

  test('a kid that is not a string, or a kid inherited from Object.prototype, is refused', async () => {
    await refused(signRaw(header({ kid: 1 }), JSON.stringify(agentClaims())), /kid missing/);
    await refused(signRaw(JSON.stringify({ alg: 'RS256', typ: 'JWT' }), JSON.stringify(agentClaims())), /kid missing/);
    for (const kid of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      await refused(signRaw(header({ kid }), JSON.stringify(agentClaims())), /unknown kid/);
    }
  });

  test('a non-string token is refused', async () => {
    await refused(undefined as unknown as string, /not a string/);
    await refused({ length: 1 } as unknown as string, /not a string/);
  });
});

/**
 * Known JWT attacks against a real gateway on a real Postgres. Every hostile token gets `401 unauthenticated` from
 * `GET /v1/intents`, and `TokenService.verify` refuses it for the reason named in the test (the reason is in
 * `error.cause`, which only the log sees). An "attacker" HTTP server on 127.0.0.1 counts every request: a token's
 * `jku`, `x5u` or embedded key must never make the gateway fetch or trust anything, so it must see none.
 *
 * Hostile tokens start from a real token the gateway issued to the stack's agent (so `sub` and `akid` name a live
 * agent and API key), and most are signed with the gateway's own private key: each is refused for its one defect,
 * not because the signature is wrong. A control test shows that the same builder without a defect is accepted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { SignJWT, decodeJwt, exportJWK } from 'jose';
import { Clawd402Error } from '@clawd402/protocol';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { TokenService } from '../src/security/tokens.ts';
import { startStack, type Stack } from './support/stack.ts';

/**
 * TODO(identity): remove this constant and the `skip` options that use it once app.ts registers
 * routes/well-known.ts. Until then the JWKS is covered without HTTP by `tokens.jwks()` in the rotation tests below
 * and in jwt-tokens.test.ts.
 */

const b64 = (bytes: string | Buffer): string => Buffer.from(bytes).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);

/** RS256 over exact header and payload JSON text, so tokens jose refuses to build (duplicate keys, …) can be built. */
function signRaw(headerJson: string, payloadJson: string, key: KeyObject): string {
  const input = `${b64(headerJson)}.${b64(payloadJson)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** The unsigned "alg: none" form: an empty signature, or junk where the signature would be. */
function unsigned(headerJson: string, payloadJson: string, signature = ''): string {
  return `${b64(headerJson)}.${b64(payloadJson)}.${signature}`;
}

describe('JWT attacks: every hostile token is 401 unauthenticated and nothing is fetched', () => {
  let stack: Stack;
  let attacker: Server;
  let attackerUrl: string;
  let attackerRequests = 0;
  let gatewayKey: KeyObject;
  let gatewayPublicPem: string;
  let kid: string;
  const attackerKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let attackerJwk: Record<string, unknown>;
  /** The payload of a real token the gateway issued to the stack's agent. */
  let real: Record<string, unknown>;

  const header = (extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ alg: 'RS256', typ: 'JWT', kid, ...extra });
  const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const t = now();
    return { ...real, iat: t, exp: t + 300, jti: randomUUID(), ...extra };
  };
  const payload = (extra: Record<string, unknown> = {}): string => JSON.stringify(claims(extra));
  /** The claims JSON of a user token whose role says owner: a made-up user and session, the real token's iss and aud. */
  const ownerUserClaims = (): string =>
    JSON.stringify({
      sub: `user:${randomUUID()}`,
      role: 'owner',
      sid: randomUUID(),
      iss: real.iss,
      aud: real.aud,
      iat: now(),
      exp: now() + 300,
      jti: randomUUID(),
    });
  /** A token the gateway's own key signed, with whatever header and claims the test gives. */
  const gatewaySigned = (headerJson: string, payloadJson: string): string =>
    signRaw(headerJson, payloadJson, gatewayKey);

  async function getIntents(token: string, baseUrl = stack.baseUrl): Promise<{ status: number; body: any }> {
    const res = await fetch(`${baseUrl}/v1/intents`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /** 401 unauthenticated over HTTP, and verify() refuses it for `reason` (read from error.cause). */
  async function assertRefused(token: string, reason: RegExp): Promise<void> {
    const res = await getIntents(token);
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.equal(res.body.code, 'unauthenticated');
    assert.ok(!JSON.stringify(res.body).includes(kid), 'the answer does not echo token content');
    await assert.rejects(stack.app.services.tokens.verify(token), (error: unknown) => {
      assert.ok(error instanceof Clawd402Error);
      assert.equal(error.code, 'unauthenticated');
      assert.ok(error.cause instanceof Error, 'the reason is in error.cause');
      assert.match(error.cause.message, reason);
      return true;
    });
  }

  before(async () => {
    attacker = createServer((request, response) => {
      attackerRequests += 1;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [attackerJwk] }));
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    attackerJwk = { ...(await exportJWK(attackerKeys.publicKey)), alg: 'RS256', use: 'sig', kid: 'attacker-1' };
    // The counter works: one request from the test itself is seen, then the count starts from zero.
    assert.equal((await fetch(`${attackerUrl}/jwks.json`)).status, 200);
    assert.equal(attackerRequests, 1);
    attackerRequests = 0;

    stack = await startStack({ tracker: false });
    gatewayKey = createPrivateKey(stack.config.jwtPrivateKeyPem);
    gatewayPublicPem = createPublicKey(gatewayKey).export({ type: 'spki', format: 'pem' }) as string;
    kid = stack.app.services.tokens.keyId;
    real = decodeJwt(await stack.token());
  });

  after(async () => {
    await stack?.stop();
    await new Promise((resolve) => attacker?.close(resolve));
  });

  describe('positive controls', () => {
    test('a freshly issued agent token works', async () => {
      const res = await getIntents(await stack.token());
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(Array.isArray(res.body.items));
    });

    test('the hand-built token without a defect is accepted (so each refusal below is for its defect)', async () => {
      const res = await getIntents(gatewaySigned(header(), payload()));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });
  });

  describe('alg none', () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      test(`alg ${alg}, unsigned (empty signature)`, async () => {
        await assertRefused(unsigned(JSON.stringify({ alg, typ: 'JWT', kid }), payload()), /segment not base64url/);
      });
      test(`alg ${alg}, with junk where the signature would be`, async () => {
        await assertRefused(
          unsigned(JSON.stringify({ alg, typ: 'JWT', kid }), payload(), b64('x'.repeat(256))),
          /alg not RS256/,
        );
      });
      test(`alg ${alg}, carrying the gateway's real RS256 signature`, async () => {
        const signature = gatewaySigned(header(), payload()).split('.')[2]!;
        await assertRefused(unsigned(JSON.stringify({ alg, typ: 'JWT', kid }), payload(), signature), /alg not RS256/);
      });
    }
  });

  describe('HS256 with the gateway public key as the HMAC secret (algorithm confusion)', () => {
    const variants: [string, (pem: string) => string][] = [
      ['the SPKI PEM', (pem) => pem],
      ['the PEM with a leading newline', (pem) => `\n${pem}`],
      ['the PEM with a leading space', (pem) => ` ${pem}`],
      ['the PEM with a leading tab', (pem) => `\t${pem}`],
      ['the PEM without its trailing newline', (pem) => pem.trimEnd()],
      ['the PKCS#1 PEM', () => createPublicKey(gatewayKey).export({ type: 'pkcs1', format: 'pem' }) as string],
      [
        'the DER bytes as latin1',
        () => (createPublicKey(gatewayKey).export({ type: 'spki', format: 'der' }) as Buffer).toString('latin1'),
      ],
    ];
    for (const [name, secret] of variants) {
      test(`HS256 keyed with ${name}`, async () => {
        const token = await new SignJWT(claims())
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid })
          .sign(new TextEncoder().encode(secret(gatewayPublicPem)));
        await assertRefused(token, /alg not RS256/);
      });
    }
    for (const alg of ['HS384', 'HS512', 'RS512', 'PS256', 'ES256', 'EdDSA', 'rs256', 'RS256 ']) {
      test(`alg ${JSON.stringify(alg)} on a token the gateway key signed`, async () => {
        await assertRefused(gatewaySigned(header({ alg }), payload()), /alg not RS256/);
      });
    }
  });

  describe('kid injection (the kid is only ever a Map key)', () => {
    for (const hostileKid of [
      '../../../../dev/null',
      "' OR 1=1 --",
      "x'; DROP TABLE agents; --",
      '/dev/null',
      'file:///etc/passwd',
      'A'.repeat(3000),
    ]) {
      test(`kid ${JSON.stringify(hostileKid.length > 40 ? `${hostileKid.slice(0, 10)}… (${hostileKid.length} chars)` : hostileKid)}, signed with the gateway key`, async () => {
        const token = gatewaySigned(header({ kid: hostileKid }), payload());
        await assertRefused(token, token.length > 4096 ? /token too long/ : /unknown kid/);
      });
    }

    test('after the SQL-looking kids the agents table is intact', async () => {
      const { rows } = await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM agents');
      assert.ok(Number(rows[0]!.n) >= 1);
    });
  });

  describe('keys carried or pointed to by the token are never used or fetched', () => {
    // A key URL in the header (jku: a JWKS, x5u: a certificate) is refused whichever key signed the token.
    for (const [member, where, path] of [
      ['jku', 'the attacker JWKS', '/jwks.json'],
      ['x5u', 'the attacker', '/cert.pem'],
    ] as const) {
      test(`${member} pointing at ${where}, signed with the attacker key`, async () => {
        const token = signRaw(
          JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'attacker-1', [member]: `${attackerUrl}${path}` }),
          payload(),
          attackerKeys.privateKey,
        );
        await assertRefused(token, /header member not allowed/);
      });

      test(`${member} pointing at ${where}, with the gateway kid and signature`, async () => {
        await assertRefused(
          gatewaySigned(header({ [member]: `${attackerUrl}${path}` }), payload()),
          /header member not allowed/,
        );
      });
    }

    test("embedded jwk: the attacker's own RSA key in the header, token signed with it", async () => {
      const token = await new SignJWT(claims())
        .setProtectedHeader({
          alg: 'RS256',
          typ: 'JWT',
          jwk: { kty: 'RSA', n: attackerJwk.n as string, e: attackerJwk.e as string },
        })
        .sign(attackerKeys.privateKey);
      await assertRefused(token, /header member not allowed/);
    });

    test("embedded jwk plus the gateway's kid, token signed with the attacker key", async () => {
      const token = await new SignJWT(claims())
        .setProtectedHeader({
          alg: 'RS256',
          typ: 'JWT',
          kid,
          jwk: { kty: 'RSA', n: attackerJwk.n as string, e: attackerJwk.e as string },
        })
        .sign(attackerKeys.privateKey);
      await assertRefused(token, /header member not allowed/);
    });

    const attackerDer = (): string =>
      (createPublicKey(attackerKeys.privateKey).export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
    for (const [member, value] of [
      ['x5c', () => [attackerDer()]],
      ['x5t', () => b64('0123456789abcdef0123')],
      ['x5t#S256', () => b64('0123456789abcdef0123456789abcdef')],
      ['crit', () => ['exp']],
      ['b64', () => false],
      ['cty', () => 'JWT'],
      ['zip', () => 'DEF'],
      ['enc', () => 'A256GCM'],
      ['unknown', () => 'member'],
    ] as [string, () => unknown][]) {
      test(`header member ${member}, on a token the gateway key signed`, async () => {
        await assertRefused(gatewaySigned(header({ [member]: value() }), payload()), /header member not allowed/);
      });
    }

    test("a token signed by another RSA key under the gateway's kid", async () => {
      await assertRefused(
        signRaw(header(), payload(), attackerKeys.privateKey),
        /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/,
      );
    });

    test("a user token whose role claim says owner, signed by another key under the gateway's kid", async () => {
      const owner = ownerUserClaims();
      await assertRefused(signRaw(header(), owner, attackerKeys.privateKey), /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    });

    test('a user token whose role claim says owner, signed by another key under its own kid', async () => {
      const owner = ownerUserClaims();
      await assertRefused(signRaw(header({ kid: 'attacker-1' }), owner, attackerKeys.privateKey), /unknown kid/);
    });

    test('an agent token turned into an owner (role claim changed, signature kept)', async () => {
      const [h, , s] = gatewaySigned(header(), payload()).split('.');
      await assertRefused(`${h}.${b64(payload({ role: 'owner' }))}.${s}`, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    });
  });

  describe('claims', () => {
    test('expired: exp in the past beyond the 5 s skew', async () => {
      await assertRefused(gatewaySigned(header(), payload({ iat: now() - 400, exp: now() - 30 })), /ERR_JWT_EXPIRED/);
    });

    test('nbf in the future', async () => {
      await assertRefused(gatewaySigned(header(), payload({ nbf: now() + 60 })), /nbf/);
    });

    test('missing exp', async () => {
      await assertRefused(gatewaySigned(header(), JSON.stringify({ ...claims(), exp: undefined })), /exp missing/);
    });

    test('exp as a string', async () => {
      await assertRefused(gatewaySigned(header(), payload({ exp: String(now() + 300) })), /exp/);
    });

    test('wrong iss', async () => {
      await assertRefused(gatewaySigned(header(), payload({ iss: 'https://attacker.example' })), /iss/);
    });

    test('wrong aud', async () => {
      await assertRefused(gatewaySigned(header(), payload({ aud: 'another-api' })), /aud/);
    });

    test('an agent sub with a user role', async () => {
      await assertRefused(gatewaySigned(header(), payload({ role: 'owner' })), /non-agent role/);
    });

    test('an extra claim (email)', async () => {
      await assertRefused(gatewaySigned(header(), payload({ email: 'root@example.com' })), /claim not allowed/);
    });
  });

  describe('size and shape', () => {
    test('a 20 KB header is refused before any parser sees it', async () => {
      const token = gatewaySigned(header({ pad: 'x'.repeat(20 * 1024) }), payload());
      assert.ok(token.length > 20 * 1024);
      // The gateway accepts request headers up to 32 KiB, so the token service sees it and refuses it on length
      // alone (over 4,096 characters), before decoding anything.
      const res = await fetch(`${stack.baseUrl}/v1/intents`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      assert.equal(res.status, 401);
      assert.equal(JSON.parse(text).code, 'unauthenticated');
      assert.ok(!text.includes(token.slice(0, 40)), 'nothing of the token is echoed');
      await assert.rejects(stack.app.services.tokens.verify(token), (error: unknown) => {
        assert.ok(error instanceof Clawd402Error && error.code === 'unauthenticated');
        assert.equal((error.cause as Error).message, 'token too long');
        return true;
      });
    });

    test("a 10 KB header (under Node's header limit) is 401 unauthenticated: token too long", async () => {
      await assertRefused(gatewaySigned(header({ pad: 'x'.repeat(10 * 1024) }), payload()), /token too long/);
    });

    test('a token one character over 4096 is refused; the length check comes first', async () => {
      const base = gatewaySigned(header(), payload());
      await assertRefused(`${base}${'A'.repeat(4097 - base.length)}`, /token too long/);
    });
  });

  describe('duplicated JSON members', () => {
    test('duplicated alg in the header: {"alg":"RS256","alg":"none"}', async () => {
      await assertRefused(
        gatewaySigned(`{"alg":"RS256","alg":"none","typ":"JWT","kid":"${kid}"}`, payload()),
        /header not strict JSON: duplicate_key/,
      );
    });

    test('duplicated alg in the header, the RS256 one last (JSON.parse would keep it and jose would accept)', async () => {
      await assertRefused(
        gatewaySigned(`{"alg":"none","typ":"JWT","kid":"${kid}","alg":"RS256"}`, payload()),
        /header not strict JSON: duplicate_key/,
      );
    });

    test('duplicated kid in the header, the second one spelt with escapes', async () => {
      await assertRefused(
        gatewaySigned(`{"alg":"RS256","typ":"JWT","kid":"attacker-1","\\u006bid":"${kid}"}`, payload()),
        /header not strict JSON: duplicate_key/,
      );
    });

    test('duplicated sub in the payload (another agent first, the real one last)', async () => {
      const body = payload();
      const twice = `{"sub":"agent:${randomUUID()}",${body.slice(1)}`;
      assert.equal(JSON.parse(twice).sub, real.sub, 'JSON.parse would read the real sub');
      await assertRefused(gatewaySigned(header(), twice), /payload not strict JSON: duplicate_key/);
    });

    test('duplicated role in the payload (owner, then agent)', async () => {
      const body = payload();
      await assertRefused(
        gatewaySigned(header(), `{"role":"owner",${body.slice(1)}`),
        /payload not strict JSON: duplicate_key/,
      );
    });
  });

  describe('tampering', () => {
    test('a valid token with one payload character flipped (the JSON stays valid)', async () => {
      const token = gatewaySigned(header(), payload());
      const [h, p, s] = token.split('.') as [string, string, string];
      const json = Buffer.from(p, 'base64url').toString();
      const at = json.indexOf('"jti":"') + 7;
      const flipped = `${json.slice(0, at)}${json[at] === 'a' ? 'b' : 'a'}${json.slice(at + 1)}`;
      assert.doesNotThrow(() => JSON.parse(flipped));
      await assertRefused(`${h}.${b64(flipped)}.${s}`, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    });

    test('a valid token with one base64url character of the payload flipped', async () => {
      const token = gatewaySigned(header(), payload());
      const [h, p, s] = token.split('.') as [string, string, string];
      const i = Math.floor(p.length / 2);
      const flipped = `${p.slice(0, i)}${p[i] === 'A' ? 'B' : 'A'}${p.slice(i + 1)}`;
      await assertRefused(`${h}.${flipped}.${s}`, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED|not strict JSON|not UTF-8/);
    });

    test('a valid token with its signature truncated by one byte', async () => {
      const [h, p, s] = gatewaySigned(header(), payload()).split('.') as [string, string, string];
      const shorter = b64(Buffer.from(s, 'base64url').subarray(0, 255));
      await assertRefused(`${h}.${p}.${shorter}`, /signature length/);
    });
  });

  describe('rotation (TokenService)', () => {
    const options = (privateKeyPem: string, previousPublicKeyPems?: string[]) => ({
      privateKeyPem,
      ...(previousPublicKeyPems ? { previousPublicKeyPems } : {}),
      issuer: stack.config.jwtIssuer,
      audience: stack.config.jwtAudience,
      expirySeconds: stack.config.jwtExpirySeconds,
    });
    const newKeyPem = (): string =>
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

    test('a token signed with a previous key listed in previousPublicKeyPems is accepted, and its kid is in jwks()', async () => {
      const rotated = new TokenService(options(newKeyPem(), [gatewayPublicPem]));
      const oldToken = await stack.token();
      const principal = await rotated.verify(oldToken);
      assert.equal(principal.kind, 'agent');
      assert.deepEqual(
        rotated.jwks().keys.map((k) => k.kid),
        [rotated.keyId, kid],
      );
    });

    test('a token signed with a key that is not listed is refused', async () => {
      const rotated = new TokenService(options(newKeyPem(), [gatewayPublicPem]));
      const stranger = new TokenService(options(newKeyPem()));
      const { token } = await stranger.issueAgentToken((real.sub as string).slice(6), real.akid as string);
      await assert.rejects(
        rotated.verify(token),
        (error: unknown) => error instanceof Clawd402Error && (error.cause as Error).message === 'unknown kid',
      );
      await assert.rejects(
        stack.app.services.tokens.verify(token),
        (error: unknown) => error instanceof Clawd402Error && (error.cause as Error).message === 'unknown kid',
      );
    });
  });

  describe('rotation and JWKS over HTTP', () => {
    let rotated: FastifyInstance | undefined;
    let rotatedUrl: string;
    let strangerToken: string;

    before(async () => {
      const newKey = newPrivateKeyFile(join(stack.dir, 'jwt-next.pem'));
      const previousFile = join(stack.dir, 'jwt-previous.pub.pem');
      writeFileSync(previousFile, `${gatewayPublicPem}\n`);
      const config = loadConfig({
        ...stack.env,
        JWT_PRIVATE_KEY_FILE: newKey,
        JWT_PREVIOUS_PUBLIC_KEYS_FILE: previousFile,
      });
      rotated = await buildApp(config, { logger: false, tracker: false });
      rotatedUrl = await rotated.listen({ host: '127.0.0.1', port: 0 });
      const stranger = new TokenService({
        privateKeyPem: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }) as string,
        issuer: stack.config.jwtIssuer,
        audience: stack.config.jwtAudience,
        expirySeconds: stack.config.jwtExpirySeconds,
      });
      strangerToken = (await stranger.issueAgentToken((real.sub as string).slice(6), real.akid as string)).token;
    });
    after(async () => rotated?.close());

    test('after rotation, a token signed with the previous key (listed in JWT_PREVIOUS_PUBLIC_KEYS_FILE) is accepted', async () => {
      const res = await getIntents(await stack.token(), rotatedUrl);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(
        rotated!.services.tokens.jwks().keys.map((k) => k.kid),
        [rotated!.services.tokens.keyId, kid],
      );
    });

    test('after rotation, a token signed with a key that is not listed is refused', async () => {
      const res = await getIntents(strangerToken, rotatedUrl);
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'unauthenticated');
    });

    test('GET /.well-known/jwks.json publishes the current key, public members only, cacheable', async () => {
      const res = await fetch(`${stack.baseUrl}/.well-known/jwks.json`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
      const body = (await res.json()) as { keys: Record<string, unknown>[] };
      assert.deepEqual(body, stack.app.services.tokens.jwks());
      assert.deepEqual(
        body.keys.map((k) => k.kid),
        [kid],
      );
      for (const k of body.keys) assert.deepEqual(Object.keys(k).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    });

    test("after rotation, the previous key's kid is in /.well-known/jwks.json", async () => {
      const jwks = (await (await fetch(`${rotatedUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
      assert.deepEqual(
        jwks.keys.map((k) => k.kid),
        [rotated!.services.tokens.keyId, kid],
      );
    });

    test('other routes stay no-store', async () => {
      const res = await fetch(`${stack.baseUrl}/health`);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    });
  });

  test('the attacker host saw zero requests', () => {
    assert.equal(attackerRequests, 0);
  });
});

function newPrivateKeyFile(path: string): string {
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  writeFileSync(path, pem, { mode: 0o600 });
  return path;
}

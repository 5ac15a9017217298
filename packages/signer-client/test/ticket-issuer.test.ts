import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { MAX_TICKET_LIFETIME_SECONDS, TICKET_TYPE, type TicketClaims } from '@clawd402/protocol';
import { TicketIssuer, generateTicketKeyPair, loadTicketPrivateKey } from '../src/index.ts';

const SIGNER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const DIGEST = `0x${'ab'.repeat(32)}` as const;

describe('TicketIssuer', () => {
  const { privateKeyPem, publicKeyPem } = generateTicketKeyPair();
  const privateKey = loadTicketPrivateKey(privateKeyPem);
  const publicKey = createPublicKey(publicKeyPem);

  test('issues a compact EdDSA JWS with the ticket typ and kid, verifiable with the public key', async () => {
    const issuer = new TicketIssuer({ privateKey, keyId: 'gw-1', now: () => 1_800_000_000_500 });
    const ticket = await issuer.issue({ intentId: 'intent-7', chainId: 8453, signerKeyId: SIGNER, digest: DIGEST });
    assert.deepEqual(decodeProtectedHeader(ticket), { alg: 'EdDSA', typ: TICKET_TYPE, kid: 'gw-1' });
    const { payload } = await compactVerify(ticket, publicKey, { algorithms: ['EdDSA'] });
    const claims = JSON.parse(new TextDecoder().decode(payload)) as TicketClaims;
    assert.deepEqual(
      { ...claims, jti: 'x' },
      {
        v: 1,
        jti: 'x',
        iid: 'intent-7',
        cid: 8453,
        kid: SIGNER,
        dig: DIGEST,
        iat: 1_800_000_000,
        exp: 1_800_000_030,
      },
    );
    assert.match(claims.jti, /^[0-9a-f-]{36}$/);
  });

  test('a new transaction ticket carries no nm; replace and cancel do, from the call or the issuer withNonceMode', async () => {
    const claimsOf = async (ticket: string) =>
      JSON.parse(new TextDecoder().decode((await compactVerify(ticket, publicKey)).payload)) as TicketClaims;
    const issuer = new TicketIssuer({ privateKey, keyId: 'gw-1' });
    const params = { intentId: 'i', chainId: 1, signerKeyId: SIGNER, digest: DIGEST } as const;
    assert.equal('nm' in (await claimsOf(await issuer.issue(params))), false);
    assert.equal((await claimsOf(await issuer.issue({ ...params, nonceMode: 'replace' }))).nm, 'replace');
    const cancelling = issuer.withNonceMode('cancel');
    assert.equal((await claimsOf(await cancelling.issue(params))).nm, 'cancel');
    assert.equal('nm' in (await claimsOf(await cancelling.issue({ ...params, nonceMode: 'new' }))), false);
    assert.equal(
      'nm' in (await claimsOf(await cancelling.issue({ ...params, operation: 'personal_sign' }))),
      false,
      'never beside op',
    );
  });

  test('a non-extractable WebCrypto key issues tickets that verify with its public key', async () => {
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    const cryptoKey = await crypto.subtle.importKey('pkcs8', pkcs8, 'Ed25519', false, ['sign']);
    const issuer = new TicketIssuer({ privateKey: cryptoKey, keyId: 'gw-webcrypto' });
    const ticket = await issuer.issue({ intentId: 'i', chainId: 1, signerKeyId: SIGNER, digest: DIGEST });
    assert.deepEqual(decodeProtectedHeader(ticket), { alg: 'EdDSA', typ: TICKET_TYPE, kid: 'gw-webcrypto' });
    const { payload } = await compactVerify(ticket, publicKey, { algorithms: ['EdDSA'] });
    assert.equal((JSON.parse(new TextDecoder().decode(payload)) as TicketClaims).dig, DIGEST);
    const other = generateTicketKeyPair();
    await assert.rejects(compactVerify(ticket, createPublicKey(other.publicKeyPem)), /signature verification failed/);
  });

  test('every ticket gets a fresh jti', async () => {
    const issuer = new TicketIssuer({ privateKey, keyId: 'gw-1' });
    const params = { intentId: 'i', chainId: 1, signerKeyId: SIGNER, digest: DIGEST } as const;
    const jtis = await Promise.all(
      [1, 2, 3].map(async () => {
        const { payload } = await compactVerify(await issuer.issue(params), publicKey);
        return (JSON.parse(new TextDecoder().decode(payload)) as TicketClaims).jti;
      }),
    );
    assert.equal(new Set(jtis).size, 3);
  });

  test('refuses a lifetime above the signer cap, and bad inputs', async () => {
    assert.throws(
      () => new TicketIssuer({ privateKey, keyId: 'k', lifetimeSeconds: MAX_TICKET_LIFETIME_SECONDS + 1 }),
      RangeError,
    );
    const issuer = new TicketIssuer({ privateKey, keyId: 'k' });
    await assert.rejects(issuer.issue({ intentId: 'i', chainId: 1, signerKeyId: SIGNER, digest: '0x1234' }), TypeError);
    await assert.rejects(issuer.issue({ intentId: 'i', chainId: 1, signerKeyId: 'bob', digest: DIGEST }), TypeError);
    await assert.rejects(issuer.issue({ intentId: 'i', chainId: 0, signerKeyId: SIGNER, digest: DIGEST }), TypeError);
  });

  test('refuses keys that are not Ed25519 private keys', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(() => new TicketIssuer({ privateKey: ec.privateKey, keyId: 'k' }), TypeError);
    assert.throws(() => new TicketIssuer({ privateKey: publicKey, keyId: 'k' }), TypeError);
    assert.throws(
      () => loadTicketPrivateKey(ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string),
      TypeError,
    );
    assert.throws(() => loadTicketPrivateKey('not pem'), TypeError);
  });

  test('generateTicketKeyPair returns PKCS#8 and SPKI PEM of one Ed25519 pair', () => {
    assert.match(privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.match(publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
    assert.equal(publicKey.asymmetricKeyType, 'ed25519');
    assert.equal(
      createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }),
      publicKey.export({ format: 'pem', type: 'spki' }),
    );
  });
});

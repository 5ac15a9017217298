// Security regressions: each hostile ticket gets exactly its catalogue code, and nothing is signed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignerError, TICKET_TYPE, type SignerErrorCode, type WireTransaction } from '@clawd402/protocol';
import { TicketIssuer } from '@clawd402/signer-client';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import {
  CHAIN_ID,
  claimsFor,
  digestOf,
  gatewayKeys,
  mintTicket,
  signerWithClient,
  tempDir,
  ticketFor,
  wireTx,
} from './support.ts';

async function assertRefused(promise: Promise<unknown>, code: SignerErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SignerError, `expected a SignerError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

describe('ticket checks over the socket', () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const rotated = gatewayKeys('gw-next');
  const stranger = gatewayKeys('gw-stranger');
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  const otherAddress = privateKeyToAccount(generatePrivateKey()).address;
  const ctx = signerWithClient(tmp, {
    privateKeys: [key],
    // Two trusted keys, as during a rotation.
    gatewayPublicKeys: [gw.publicKeyPem + rotated.publicKeyPem],
    chains: [CHAIN_ID, 1],
  });
  const sign = (ticket: string, transaction: WireTransaction) => ctx.client.signTransaction({ ticket, transaction });

  test('a reused ticket is refused with ticket_reused', async () => {
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, address);
    await sign(ticket, tx);
    await assertRefused(sign(ticket, tx), 'ticket_reused');
  });

  test('a ticket for another digest (a tx field changed after issuing) is refused with ticket_digest_mismatch', async () => {
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, address);
    await assertRefused(
      sign(ticket, { ...tx, to: '0x000000000000000000000000000000000000dEaD' }),
      'ticket_digest_mismatch',
    );
    await assertRefused(sign(ticket, { ...tx, value: '1000000000000000001' }), 'ticket_digest_mismatch');
  });

  test('a refused ticket is not spent: after a digest mismatch the right transaction still signs', async () => {
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, address);
    await assertRefused(sign(ticket, { ...tx, gas: '21001' }), 'ticket_digest_mismatch');
    assert.equal((await sign(ticket, tx)).from, address);
  });

  test('an expired ticket is refused with ticket_expired', async () => {
    const past = new TicketIssuer({ privateKey: gw.privateKey, keyId: 'gw-test', now: () => Date.now() - 120_000 });
    const tx = wireTx();
    const ticket = await past.issue({ intentId: 'i', chainId: CHAIN_ID, signerKeyId: address, digest: digestOf(tx) });
    await assertRefused(sign(ticket, tx), 'ticket_expired');
  });

  test('a ticket signed by an untrusted Ed25519 key is refused with ticket_bad_signature', async () => {
    const tx = wireTx();
    await assertRefused(sign(await ticketFor(stranger, tx, address), tx), 'ticket_bad_signature');
  });

  test('a ticket signed by the second configured gateway key (rotation) signs', async () => {
    const tx = wireTx();
    assert.equal((await sign(await ticketFor(rotated, tx, address), tx)).from, address);
  });

  test('a ticket whose claims were edited after signing is refused with ticket_bad_signature', async () => {
    const tx = wireTx();
    const [header, , signature] = (await ticketFor(gw, tx, address)).split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...claimsFor(tx, address), exp: Math.floor(Date.now() / 1000) + 50 }),
    ).toString('base64url');
    await assertRefused(sign(`${header}.${forged}.${signature}`, tx), 'ticket_bad_signature');
  });

  test('alg other than EdDSA is refused with ticket_malformed (HS256 keyed with the public key, alg none, Ed25519)', async () => {
    const tx = wireTx();
    const claims = claimsFor(tx, address);
    // The classic confusion attack: HMAC keyed with the verifier's public key bytes.
    const hmacKey = new Uint8Array(gw.publicKey.export({ format: 'der', type: 'spki' }));
    await assertRefused(
      sign(await mintTicket(hmacKey, claims, { alg: 'HS256', typ: TICKET_TYPE }), tx),
      'ticket_malformed',
    );
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: TICKET_TYPE })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    await assertRefused(sign(none, tx), 'ticket_malformed');
    await assertRefused(
      sign(await mintTicket(gw.privateKey, claims, { alg: 'Ed25519', typ: TICKET_TYPE }), tx),
      'ticket_malformed',
    );
  });

  test('a garbage ticket is refused with ticket_malformed', async () => {
    const tx = wireTx();
    for (const garbage of ['not-a-jws', 'a.b.c', '', 'x'.repeat(5000), '..']) {
      await assertRefused(sign(garbage, tx), 'ticket_malformed');
    }
  });

  test('a validly signed ticket re-encoded outside unpadded base64url is refused with ticket_malformed', async () => {
    const tx = wireTx();
    const [header, payload, signature] = (await ticketFor(gw, tx, address)).split('.') as [string, string, string];
    // The first three decode to the very bytes signed under Node's lenient base64 decoder: only the shape check
    // refuses them. The rest are refused on their shape before any key is tried.
    const variants = [
      `${header}.${payload}.${signature}==`, // padded
      `${header}.${payload}.${signature.slice(0, 40)} ${signature.slice(40)}`, // whitespace inside
      `${header}.${payload}.${signature}\n`, // trailing newline
      `${header}.${payload}.${signature}.`, // a fourth, empty segment
      `${header}.${payload}.${signature}.${signature}`, // a fourth segment
      `${header}.${payload}.${signature}AAA`, // 89 characters: a length no unpadded encoding has (4n + 1)
    ];
    for (const variant of variants) await assertRefused(sign(variant, tx), 'ticket_malformed');
    // The ticket as issued still signs: none of the above spent it.
    await sign(`${header}.${payload}.${signature}`, tx);
  });

  test('a standard JWS made by jose with a trusted key signs (tickets minted as earlier gateways did)', async () => {
    const tx = wireTx();
    const ticket = await mintTicket(gw.privateKey, claimsFor(tx, address), {
      alg: 'EdDSA',
      typ: TICKET_TYPE,
      kid: 'gw',
    });
    const signed = await sign(ticket, tx);
    assert.equal(signed.from.toLowerCase(), address.toLowerCase());
  });

  test('a ticket with the wrong typ, no typ or an embedded jwk header is refused with ticket_malformed', async () => {
    const tx = wireTx();
    const claims = claimsFor(tx, address);
    await assertRefused(
      sign(await mintTicket(gw.privateKey, claims, { alg: 'EdDSA', typ: 'JWT' }), tx),
      'ticket_malformed',
    );
    await assertRefused(sign(await mintTicket(gw.privateKey, claims, { alg: 'EdDSA' }), tx), 'ticket_malformed');
    // An embedded key (jwk) signed by that same untrusted key: never trusted, refused on the header alone.
    const embedded = stranger.publicKey.export({ format: 'jwk' });
    await assertRefused(
      sign(await mintTicket(stranger.privateKey, claims, { alg: 'EdDSA', typ: TICKET_TYPE, jwk: embedded }), tx),
      'ticket_malformed',
    );
  });

  test('validly signed claims of the wrong shape are refused with ticket_malformed', async () => {
    const tx = wireTx();
    const good = claimsFor(tx, address);
    const bad: Record<string, unknown>[] = [
      { ...good, v: 2 },
      { ...good, jti: 7 },
      { ...good, cid: '31337' },
      { ...good, exp: (good.exp as number) + 0.5 },
      { ...good, kid: 'alice' },
      { ...good, dig: '0x1234' },
      { ...good, extra: true },
      Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'iid')),
    ];
    for (const claims of bad)
      await assertRefused(sign(await mintTicket(gw.privateKey, claims), tx), 'ticket_malformed');
  });

  test('a ticket valid for longer than the cap is refused with ticket_lifetime_too_long', async () => {
    const tx = wireTx();
    const now = Math.floor(Date.now() / 1000);
    await assertRefused(
      sign(await mintTicket(gw.privateKey, { ...claimsFor(tx, address), iat: now, exp: now + 61 }), tx),
      'ticket_lifetime_too_long',
    );
  });

  test('a ticket dated in the future cannot outlive the cap (iat ahead, exp - iat small): ticket_lifetime_too_long', async () => {
    const tx = wireTx();
    const later = Math.floor(Date.now() / 1000) + 3600;
    await assertRefused(
      sign(await mintTicket(gw.privateKey, { ...claimsFor(tx, address), iat: later, exp: later + 30 }), tx),
      'ticket_lifetime_too_long',
    );
  });

  test('a ticket naming a key the signer does not hold is refused with unknown_key', async () => {
    const tx = wireTx();
    await assertRefused(sign(await ticketFor(gw, tx, otherAddress), tx), 'unknown_key');
  });

  test('a ticket for a chain the signer does not sign for is refused with chain_not_allowed', async () => {
    const tx = wireTx({ chainId: 10 });
    await assertRefused(sign(await ticketFor(gw, tx, address), tx), 'chain_not_allowed');
  });

  test('a transaction on another chain than the ticket is refused with ticket_chain_mismatch', async () => {
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, address); // cid 31337
    await assertRefused(sign(ticket, { ...tx, chainId: 1 }), 'ticket_chain_mismatch');
  });

  test('a transaction that is not a plain EIP-1559 object is refused with invalid_params', async () => {
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, address);
    await assertRefused(sign(ticket, { ...tx, value: '-1' }), 'invalid_params');
    await assertRefused(sign(ticket, { ...tx, accessList: [] } as WireTransaction), 'invalid_params');
    // None of the above spent the ticket.
    assert.equal((await sign(ticket, tx)).from, address);
  });
});

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { messageDigest, type NonceMode, type WireTransaction } from '@clawd402/protocol';
import type { SignerClient } from '@clawd402/signer-client';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { NonceGuard, SignerJournal, type StartSignerOptions } from '../src/index.ts';
import {
  claimsFor,
  digestOf,
  gatewayKeys,
  mintTicket,
  refusedWith,
  tempDir,
  wireTx,
  withStartedSigner,
} from './support.ts';

/**
 * The signer's own nonce guard: one signed transaction per (chain, address, nonce) unless the gateway's ticket says it
 * replaces or cancels what is there — a second wall behind the gateway's nonce allocation.
 */
describe('signer nonce guard', { timeout: 120_000 }, () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  const socketPath = join(tmp.dir, 'signer.sock');
  const journalFile = join(tmp.dir, 'journal.jsonl');
  after(() => tmp.cleanup());

  const ticket = (tx: WireTransaction, nonceMode: NonceMode = 'new') =>
    gw.issuer.issue({
      intentId: 'intent-ng',
      chainId: tx.chainId,
      signerKeyId: address,
      digest: digestOf(tx),
      nonceMode,
    });
  const journalLines = (): number => readFileSync(journalFile, 'utf8').split('\n').filter(Boolean).length;

  async function withSigner<T>(
    fn: (client: SignerClient) => Promise<T>,
    extra: Partial<StartSignerOptions> = {},
  ): Promise<T> {
    return withStartedSigner(
      { socketPath, privateKeys: [key], gatewayPublicKeys: [gw.publicKey], journalFile, ...extra },
      fn,
    );
  }

  test('SECURITY: a second, different transaction at a nonce already signed is refused with nonce_already_signed, and nothing is recorded', async () => {
    await withSigner(async (client) => {
      const first = wireTx({ nonce: 7 });
      await client.signTransaction({ ticket: await ticket(first), transaction: first });
      const countsBefore = (await client.listKeys()).keys[0]!.usage.transaction;
      const linesBefore = journalLines();

      // The hostile input: a valid ticket for another transaction (other recipient, more value) at the same nonce.
      const second = wireTx({ nonce: 7, to: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', value: '5000000000000000' });
      await assert.rejects(
        client.signTransaction({ ticket: await ticket(second), transaction: second }),
        refusedWith('nonce_already_signed'),
      );
      // Only a different fee, same call: still another transaction at that nonce.
      const refeed = wireTx({ ...first, maxFeePerGas: '3000000000' });
      await assert.rejects(
        client.signTransaction({ ticket: await ticket(refeed), transaction: refeed }),
        refusedWith('nonce_already_signed'),
      );

      assert.equal((await client.listKeys()).keys[0]!.usage.transaction, countsBefore, 'no signature was counted');
      assert.equal(journalLines(), linesBefore, 'the journal holds no line for the refused transactions');
    });
  });

  test('the identical transaction signed again under a fresh ticket is allowed (a re-sign adds nothing to mine)', async () => {
    await withSigner(async (client) => {
      const tx = wireTx({ nonce: 11 });
      const a = await client.signTransaction({ ticket: await ticket(tx), transaction: tx });
      const b = await client.signTransaction({ ticket: await ticket(tx), transaction: tx });
      assert.equal(b.hash, a.hash);
    });
  });

  test('a replace ticket signs another transaction at the nonce; a cancel ticket signs a zero-value self-transfer there', async () => {
    await withSigner(async (client) => {
      const original = wireTx({ nonce: 20 });
      await client.signTransaction({ ticket: await ticket(original), transaction: original });
      const speedUp = wireTx({ ...original, maxFeePerGas: '2200000000', maxPriorityFeePerGas: '1100000000' });
      await assert.rejects(
        client.signTransaction({ ticket: await ticket(speedUp), transaction: speedUp }),
        refusedWith('nonce_already_signed'),
      );
      const sped = await client.signTransaction({ ticket: await ticket(speedUp, 'replace'), transaction: speedUp });
      assert.equal(sped.from, address);

      const cancel = wireTx({
        nonce: 20,
        to: address,
        value: '0',
        data: '0x',
        maxFeePerGas: '2500000000',
        maxPriorityFeePerGas: '1300000000',
      });
      await assert.rejects(
        client.signTransaction({ ticket: await ticket(cancel), transaction: cancel }),
        refusedWith('nonce_already_signed'),
      );
      assert.equal(
        (await client.signTransaction({ ticket: await ticket(cancel, 'cancel'), transaction: cancel })).from,
        address,
      );
      // After a replacement, the replaced transactions re-signed identically are still no second *different* one.
      await client.signTransaction({ ticket: await ticket(original), transaction: original });
    });
  });

  test('SECURITY: a cancel ticket for anything but a zero-value self-transfer without data is refused with ticket_not_cancellation', async () => {
    await withSigner(async (client) => {
      const signed = wireTx({ nonce: 30 });
      await client.signTransaction({ ticket: await ticket(signed), transaction: signed });
      const before = journalLines();
      for (const hostile of [
        wireTx({ nonce: 30, to: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', value: '0', data: '0x' }), // not to itself
        wireTx({ nonce: 30, to: address, value: '1', data: '0x' }), // moves value
        wireTx({ nonce: 30, to: address, value: '0', data: '0xa9059cbb' }), // carries a call
      ]) {
        await assert.rejects(
          client.signTransaction({ ticket: await ticket(hostile, 'cancel'), transaction: hostile }),
          refusedWith('ticket_not_cancellation'),
        );
      }
      assert.equal(journalLines(), before);
    });
  });

  test('SECURITY: an unknown nonce mode, `new` spelled out, or a nonce mode beside `op` is ticket_malformed', async () => {
    await withSigner(async (client) => {
      const tx = wireTx({ nonce: 40 });
      for (const nm of ['new', 'overwrite', 1]) {
        const forged = await mintTicket(gw.privateKey, { ...claimsFor(tx, address), nm });
        await assert.rejects(
          client.signTransaction({ ticket: forged, transaction: tx }),
          refusedWith('ticket_malformed'),
        );
      }
      const message = '0x68656c6c6f' as const;
      const forged = await mintTicket(gw.privateKey, {
        ...claimsFor(tx, address),
        dig: messageDigest(message),
        op: 'personal_sign',
        nm: 'replace',
      });
      await assert.rejects(client.signMessage({ ticket: forged, message }), refusedWith('ticket_malformed'));
    });
  });

  test('the guard survives a restart (journal replay) and a compaction of the journal', async () => {
    const tx = wireTx({ nonce: 50 });
    const other = wireTx({ nonce: 50, value: '42' });
    await withSigner(async (client) => {
      await client.signTransaction({ ticket: await ticket(tx), transaction: tx });
    });
    await withSigner(async (client) => {
      await assert.rejects(
        client.signTransaction({ ticket: await ticket(other), transaction: other }),
        refusedWith('nonce_already_signed'),
      );
      await client.signTransaction({ ticket: await ticket(tx), transaction: tx }); // identical: still fine
    });
    // Reopening compacts the file into a snapshot; the snapshot carries the guard too.
    const reopened = new SignerJournal({ path: journalFile });
    assert.deepEqual(reopened.signedAtNonce(31337, address, 50), [digestOf(tx)]);
    await reopened.close();
    assert.match(readFileSync(journalFile, 'utf8'), /"nonces"/);
    await withSigner(async (client) => {
      await assert.rejects(
        client.signTransaction({ ticket: await ticket(other), transaction: other }),
        refusedWith('nonce_already_signed'),
      );
    });
  });
});

describe('nonce guard memory bound', { timeout: 30_000 }, () => {
  const ADDRESS = '0x00000000000000000000000000000000000000aa';
  const digest = (n: number): string => `0x${n.toString(16).padStart(64, '0')}`;
  const claim = (nonce: number, d = digest(nonce)) => ({ chainId: 1, address: ADDRESS, nonce, digest: d });

  test('only the last `window` nonces per address are held; a new ticket below them is refused with nonce_below_window', () => {
    const guard = new NonceGuard(16);
    for (let n = 0; n < 200; n += 1) guard.record(claim(n));
    assert.equal(guard.size, 17, 'nonces 183..199 only');
    assert.throws(() => guard.check(claim(100, digest(9999)), 'new'), refusedWith('nonce_below_window'));
    assert.throws(() => guard.check(claim(190, digest(9999)), 'new'), refusedWith('nonce_already_signed'));
    guard.check(claim(190), 'new'); // identical
    guard.check(claim(100, digest(9999)), 'cancel'); // a cancellation is allowed anywhere
    guard.check(claim(250), 'new'); // ahead of everything: fine
  });

  test('a signature given back (device declined) frees its nonce again, but never lowers the floor', () => {
    const journal = new SignerJournal({ now: () => 1_800_000_000_000, nonceWindow: 4 });
    const reserve = (jti: string, nonce: number, d: string) =>
      journal.reserve({
        jti,
        exp: 1_800_000_030,
        capKey: ADDRESS,
        usageKey: ADDRESS,
        operation: 'transaction',
        amount: 0n,
        dayCap: null,
        nonce: { claim: claim(nonce, d), mode: 'new' },
      });
    const declined = reserve('a', 10, digest(1));
    journal.release(declined);
    reserve('b', 10, digest(2)); // the declined digest is forgotten: another transaction may take the nonce
    assert.throws(() => reserve('c', 10, digest(3)), refusedWith('nonce_already_signed'));
    assert.throws(() => reserve('d', 5, digest(3)), refusedWith('nonce_below_window'));
  });
});

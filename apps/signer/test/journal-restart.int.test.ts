import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { join } from 'node:path';
import { SignerError } from '@clawd402/protocol';
import type { SignerClient } from '@clawd402/signer-client';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { StartSignerOptions } from '../src/index.ts';
import { gatewayKeys, tempDir, ticketFor, wireTx, withStartedSigner } from './support.ts';

describe('used-ticket journal across restarts', () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  const socketPath = join(tmp.dir, 'signer.sock');
  after(() => tmp.cleanup());

  /** Start a signer, run `fn` with a client, stop it. */
  async function withSigner<T>(
    extra: Partial<StartSignerOptions>,
    fn: (client: SignerClient) => Promise<T>,
  ): Promise<T> {
    return withStartedSigner({ socketPath, privateKeys: [key], gatewayPublicKeys: [gw.publicKey], ...extra }, fn);
  }

  test('with --journal, a ticket used before a restart is still refused with ticket_reused', async () => {
    const journalFile = join(tmp.dir, 'journal.jsonl');
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, address);
    await withSigner({ journalFile }, (client) => client.signTransaction({ ticket, transaction: tx }));
    await withSigner({ journalFile }, async (client) => {
      await assert.rejects(client.signTransaction({ ticket, transaction: tx }), (error: unknown) => {
        assert.ok(error instanceof SignerError);
        assert.equal(error.code, 'ticket_reused');
        return true;
      });
      // Fresh tickets still sign after the restart.
      const next = wireTx();
      assert.equal(
        (await client.signTransaction({ ticket: await ticketFor(gw, next, address), transaction: next })).from,
        address,
      );
    });
  });

  test('without a journal, the memory of used tickets does not survive a restart (why --journal matters)', async () => {
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, address);
    await withSigner({}, (client) => client.signTransaction({ ticket, transaction: tx }));
    const again = await withSigner({}, (client) => client.signTransaction({ ticket, transaction: tx }));
    assert.equal(again.from, address);
  });
});

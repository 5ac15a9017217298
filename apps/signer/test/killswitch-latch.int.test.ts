import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { latchReleaseMessage } from '@clawd402/protocol';
import type { SignerClient } from '@clawd402/signer-client';
import { runScript } from '@clawd402/testkit';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { StartSignerOptions } from '../src/index.ts';
import {
  digestOf,
  gatewayKeys,
  messageTicketFor,
  rejectsWith,
  tempDir,
  ticketFor,
  wireTx,
  withStartedSigner,
  writeFileText,
} from './support.ts';

const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The kill switch's latch in the signer (docs/killswitch.md): kept in the journal, refusing every ticket but
 * cancellations, and lifted only by an owners' release authorisation or the CLI on the signer's own host.
 */
describe('signer kill-switch latch', { timeout: 300_000 }, () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  const release = generateKeyPairSync('ed25519');
  const releaseKeyFile = writeFileText(
    join(tmp.dir, 'release.pub.pem'),
    release.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  );
  const journalFile = join(tmp.dir, 'journal.jsonl');
  after(() => tmp.cleanup());

  const withSigner = <T>(extra: Partial<StartSignerOptions>, fn: (client: SignerClient) => Promise<T>): Promise<T> =>
    withStartedSigner(
      {
        socketPath: join(tmp.dir, 'signer.sock'),
        privateKeys: [key],
        gatewayPublicKeys: [gw.publicKey],
        journalFile,
        releaseKeyFile,
        ...extra,
      },
      fn,
    );
  const authorize = (latchId: string, by: KeyObject = release.privateKey): string =>
    sign(null, latchReleaseMessage(latchId), by).toString('base64url');
  const cancellation = () => wireTx({ to: address, value: '0' });

  let latchId = '';
  test('latched: every ticket but a zero-value self-transfer (cancellation) is refused (killswitch_latched), across a restart', async () => {
    await withSigner({}, async (client) => {
      const latched = await client.latch('drill');
      assert.equal(latched.latched, true);
      latchId = latched.latchId!;
      assert.equal((await client.latch('again')).latchId, latchId, 'latching twice keeps the latch');
    });
    await withSigner({}, async (client) => {
      assert.deepEqual((await client.latchStatus()).latchId, latchId);
      const tx = wireTx();
      await rejectsWith(
        client.signTransaction({ ticket: await ticketFor(gw, tx, address), transaction: tx }),
        'killswitch_latched',
      );
      const replace = wireTx();
      const replaceTicket = await gw.issuer
        .withNonceMode('replace')
        .issue({ intentId: 'i', chainId: replace.chainId, signerKeyId: address, digest: digestOf(replace) });
      await rejectsWith(client.signTransaction({ ticket: replaceTicket, transaction: replace }), 'killswitch_latched');
      await rejectsWith(
        client.signMessage({ ticket: await messageTicketFor(gw, '0x6869', address), message: '0x6869' }),
        'killswitch_latched',
      );
      // A cancel ticket for something that is not a zero-value self-transfer is refused too.
      const disguised = wireTx({ value: '0' });
      const disguisedTicket = await gw.issuer
        .withNonceMode('cancel')
        .issue({ intentId: 'i', chainId: disguised.chainId, signerKeyId: address, digest: digestOf(disguised) });
      await rejectsWith(
        client.signTransaction({ ticket: disguisedTicket, transaction: disguised }),
        'killswitch_latched',
      );
      const cancel = cancellation();
      const cancelTicket = await gw.issuer
        .withNonceMode('cancel')
        .issue({ intentId: 'i', chainId: cancel.chainId, signerKeyId: address, digest: digestOf(cancel) });
      assert.equal((await client.signTransaction({ ticket: cancelTicket, transaction: cancel })).from, address);
      // A fee bump of a cancellation (a `replace` ticket for a zero-value self-transfer) moves nothing either.
      const bumped = { ...cancel, maxFeePerGas: '4000000000', maxPriorityFeePerGas: '2000000000' };
      const bumpTicket = await gw.issuer
        .withNonceMode('replace')
        .issue({ intentId: 'i', chainId: bumped.chainId, signerKeyId: address, digest: digestOf(bumped) });
      assert.equal((await client.signTransaction({ ticket: bumpTicket, transaction: bumped })).from, address);
    });
  });

  test('a release not signed by a release key, or for another latch, or to a signer without release keys, is refused', async () => {
    const forged = generateKeyPairSync('ed25519').privateKey;
    await withSigner({}, async (client) => {
      await rejectsWith(
        client.releaseLatch({ latchId, authorization: authorize(latchId, forged) }),
        'latch_release_unauthorized',
      );
      await rejectsWith(
        client.releaseLatch({ latchId: 'another', authorization: authorize('another') }),
        'latch_release_unauthorized',
      );
      await rejectsWith(client.releaseLatch({ latchId, authorization: 'not base64url!' }), 'invalid_params');
    });
    await withSigner({ releaseKeyFile: undefined }, async (client) => {
      await rejectsWith(
        client.releaseLatch({ latchId, authorization: authorize(latchId) }),
        'latch_release_unauthorized',
      );
      assert.equal((await client.latchStatus()).latched, true);
    });
  });

  test('the owners’ authorisation lifts it, for good (journal), and signing resumes', async () => {
    await withSigner({}, async (client) => {
      assert.equal((await client.releaseLatch({ latchId, authorization: authorize(latchId) })).latched, false);
    });
    await withSigner({}, async (client) => {
      assert.equal((await client.latchStatus()).latched, false);
      const tx = wireTx();
      assert.equal(
        (await client.signTransaction({ ticket: await ticketFor(gw, tx, address), transaction: tx })).from,
        address,
      );
    });
  });

  test('CLI on the signer host: latch status, latch release (signer stopped), sign-release', async () => {
    const id = await withSigner({}, async (client) => (await client.latch('cli drill')).latchId!);
    const cli = async (args: string[]) => {
      const run = runScript(cliPath, args, repoRoot);
      assert.equal(await run.exit, 0, run.stderr());
      return JSON.parse(run.stdout().trim()) as Record<string, unknown>;
    };
    assert.deepEqual(await cli(['latch', 'status', '--journal', journalFile]).then((s) => [s.latched, s.latchId]), [
      true,
      id,
    ]);
    const keyFile = writeFileText(
      join(tmp.dir, 'owner-release.pem'),
      release.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    );
    const signed = await cli(['latch', 'sign-release', '--key', keyFile, '--latch', id]);
    assert.equal(signed.authorization, authorize(id), 'the CLI signs what the signer verifies');
    assert.deepEqual(await cli(['latch', 'release', '--journal', journalFile]), { latched: false, released: id });
    await withSigner({}, async (client) => assert.equal((await client.latchStatus()).latched, false));
  });
});

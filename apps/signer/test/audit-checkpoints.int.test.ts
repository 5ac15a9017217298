import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { verifyCheckpoint, type SignerClient } from '@clawd402/signer-client';
import { generatePrivateKey } from 'viem/accounts';
import { gatewayKeys, refusedWith, tempDir, withStartedSigner } from './support.ts';

const HEAD = (c: string) => c.repeat(64);

/** The signer as notary of the audit chain's head: its own key, its own append-only file, only forward. */
describe('audit checkpoints', { timeout: 60_000 }, () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const key = generatePrivateKey();
  const socketPath = join(tmp.dir, 'signer.sock');
  const checkpointDir = join(tmp.dir, 'checkpoints');
  after(() => tmp.cleanup());

  async function withSigner<T>(
    fn: (client: SignerClient) => Promise<T>,
    dir: string | null = checkpointDir,
  ): Promise<T> {
    return withStartedSigner(
      { socketPath, privateKeys: [key], gatewayPublicKeys: [gw.publicKey], ...(dir ? { checkpointDir: dir } : {}) },
      fn,
    );
  }

  test('signs {count, head} with its own checkpoint key, keeps it in its own file, and refuses to go backwards, across a restart', async () => {
    const publicKey = await withSigner(async (client) => {
      assert.equal((await client.getCheckpoint()).checkpoint, null);
      const signed = await client.signCheckpoint({ count: 10, head: HEAD('a') });
      const verified = await verifyCheckpoint(signed.checkpoint!, signed.publicKey);
      assert.ok('claims' in verified);
      assert.deepEqual({ ...verified.claims, at: 'x' }, { v: 1, count: 10, head: HEAD('a'), at: 'x' });
      // The same head again is answered with the same checkpoint; nothing new is written.
      assert.equal((await client.signCheckpoint({ count: 10, head: HEAD('a') })).checkpoint, signed.checkpoint);
      await client.signCheckpoint({ count: 12, head: HEAD('b') });
      return signed.publicKey;
    });
    assert.equal(statSync(join(checkpointDir, 'checkpoint-ed25519.pem')).mode & 0o777, 0o600);
    assert.equal(
      readFileSync(join(checkpointDir, 'checkpoint-ed25519.pub.pem'), 'utf8'),
      publicKey,
      'the public key is written beside it, to pin',
    );
    assert.equal(readFileSync(join(checkpointDir, 'checkpoints.jws'), 'utf8').trim().split('\n').length, 2);

    await withSigner(async (client) => {
      const latest = await client.getCheckpoint();
      assert.equal(latest.publicKey, publicKey, 'the key survives the restart');
      const claims = await verifyCheckpoint(latest.checkpoint!, publicKey);
      assert.ok('claims' in claims && claims.claims.count === 12);
      await assert.rejects(client.signCheckpoint({ count: 11, head: HEAD('c') }), refusedWith('checkpoint_regressed'));
      await assert.rejects(client.signCheckpoint({ count: 12, head: HEAD('c') }), refusedWith('checkpoint_conflict'));
      for (const bad of [
        { count: 0, head: HEAD('a') },
        { count: 13, head: 'A'.repeat(64) },
        { count: 1.5, head: HEAD('a') },
      ]) {
        await assert.rejects(client.signCheckpoint(bad), refusedWith('invalid_params'));
      }
    });
  });

  test('without a checkpoint directory, checkpoints are checkpoints_unavailable', async () => {
    await withSigner(async (client) => {
      await assert.rejects(client.getCheckpoint(), refusedWith('checkpoints_unavailable'));
      await assert.rejects(
        client.signCheckpoint({ count: 1, head: HEAD('a') }),
        refusedWith('checkpoints_unavailable'),
      );
    }, null);
  });
});

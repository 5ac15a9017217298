import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPIENTS, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';

describe('nonces hold across gateway processes', { timeout: 300_000 }, () => {
  let stack: Stack;
  let gateways: { baseUrl: string; stop(): Promise<void> }[];
  before(async () => {
    stack = await startStack({ tracker: false, signerHdKeys: 8 });
    gateways = await Promise.all([stack.spawnGateway(), stack.spawnGateway()]);
  });
  after(async () => stack?.stop());
  /** The i-th of a run of small native transfers, to the recipients in turn. */
  const smallTransfer = (i: number) =>
    ({
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[i % RECIPIENTS.length]!,
      asset: 'native',
      amount: '0.001',
    }) as const;

  test('50 concurrent intents from one address through two gateway processes get nonces 0..49 and all mine', async () => {
    const token = await stack.token();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => postIntent(gateways[i % 2]!.baseUrl, token, smallTransfer(i))),
    );
    for (const r of results) assert.equal(r.status, 201, JSON.stringify(r.body));
    const nonces = results.map((r) => r.body.nonce as number).sort((a, b) => a - b);
    assert.deepEqual(
      nonces,
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.equal(new Set(results.map((r) => r.body.txHash)).size, 50);

    for (const r of results) {
      const settled = await waitForStatus(gateways[0]!.baseUrl, token, r.body.id, ['confirmed', 'failed']);
      assert.equal(settled.status, 'confirmed');
    }
    assert.equal(await stack.chain.getTransactionCount({ address: stack.signerAddress }), 50);
    const { rows } = await stack.pool.query('SELECT next_nonce::int AS n FROM nonces WHERE address = $1', [
      stack.signerAddress,
    ]);
    assert.equal(rows[0].n, 50);
  });

  test('48 concurrent intents from eight addresses through two gateway processes: each address gets nonces 0..5, all mine', async () => {
    // The eight keys share signing lanes, so each process's signing transactions lock several nonce rows at once, and
    // the two processes' sets overlap: they must queue on the rows, never deadlock, duplicate or skip a nonce.
    const tokens: string[] = [];
    for (const address of stack.signerHdAddresses)
      tokens.push(await stack.token((await stack.newAgent(undefined, address)).apiKey));
    const results = await Promise.all(
      Array.from({ length: 48 }, (_, i) => postIntent(gateways[i % 2]!.baseUrl, tokens[i % 8]!, smallTransfer(i))),
    );
    for (const r of results) assert.equal(r.status, 201, JSON.stringify(r.body));
    for (const [k, address] of stack.signerHdAddresses.entries()) {
      const nonces = results
        .filter((_, i) => i % 8 === k)
        .map((r) => r.body.nonce as number)
        .sort((a, b) => a - b);
      assert.deepEqual(nonces, [0, 1, 2, 3, 4, 5], `nonces of ${address}`);
    }
    assert.equal(new Set(results.map((r) => r.body.txHash)).size, 48);
    for (const [i, r] of results.entries()) {
      const settled = await waitForStatus(gateways[0]!.baseUrl, tokens[i % 8]!, r.body.id, ['confirmed', 'failed']);
      assert.equal(settled.status, 'confirmed');
    }
    for (const address of stack.signerHdAddresses) {
      assert.equal(await stack.chain.getTransactionCount({ address }), 6);
      const { rows } = await stack.pool.query('SELECT next_nonce::int AS n FROM nonces WHERE address = $1', [address]);
      assert.equal(rows[0].n, 6);
    }
  });
});

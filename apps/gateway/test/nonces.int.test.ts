import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPIENTS, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';

describe('nonces hold across gateway processes', () => {
  let stack: Stack;
  let gateways: { baseUrl: string; stop(): Promise<void> }[];
  before(async () => {
    stack = await startStack({ tracker: false });
    gateways = await Promise.all([stack.spawnGateway(), stack.spawnGateway()]);
  });
  after(async () => stack?.stop());

  test('50 concurrent intents from one address through two gateway processes get nonces 0..49 and all mine', async () => {
    const token = await stack.token();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        postIntent(gateways[i % 2]!.baseUrl, token, {
          type: 'transfer',
          chainId: 31337,
          to: RECIPIENTS[i % RECIPIENTS.length]!,
          asset: 'native',
          amount: '0.001',
        }),
      ),
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
});

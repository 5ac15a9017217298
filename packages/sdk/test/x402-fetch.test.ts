// The paying fetch's own guards (docs/x402.md): maxAmount is checked before the gateway is asked.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IntentView } from '@clawd402/protocol';
import { payingFetch, type Clawd402ClientError, type X402Payer } from '../src/index.ts';

const REQUIREMENT = {
  scheme: 'exact',
  network: 'eip155:31337',
  asset: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  amount: '10000',
  payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  maxTimeoutSeconds: 300,
  extra: { name: 'USD Coin', version: '2' },
};
/** A resource that answers 402 with REQUIREMENT until it gets a payment header, then 200. */
const resource: typeof fetch = async (input) => {
  const request = input as Request;
  if (request.headers.get('payment-signature') !== null) return new Response('paid', { status: 200 });
  const required = Buffer.from(JSON.stringify({ x402Version: 2, accepts: [REQUIREMENT] })).toString('base64');
  return new Response('{}', { status: 402, headers: { 'payment-required': required } });
};
function payer(): X402Payer & { asked: number } {
  const p = {
    chainId: 31337,
    asked: 0,
    payX402: async () => {
      p.asked += 1;
      return {
        id: '00000000-0000-4000-8000-000000000000',
        status: 'signed',
        signing: { signature: `0x${'11'.repeat(65)}` },
        x402: { authorization: { from: '0x', to: REQUIREMENT.payTo } },
      } as unknown as IntentView;
    },
  };
  return p;
}

describe('payingFetch maxAmount', { timeout: 10_000 }, () => {
  test('a price above maxAmount is refused with x402_amount_above_max before the gateway is asked', async () => {
    const p = payer();
    await assert.rejects(
      payingFetch(p, resource, 'http://127.0.0.1/data', undefined, { maxAmount: '9999' }),
      (error: Clawd402ClientError) => {
        assert.equal(error.code, 'x402_amount_above_max');
        assert.deepEqual(error.details, { amount: '10000', maxAmount: '9999', network: 'eip155:31337' });
        return true;
      },
    );
    assert.equal(p.asked, 0);
  });

  test('a price at maxAmount is paid once', async () => {
    const p = payer();
    const response = await payingFetch(p, resource, 'http://127.0.0.1/data', undefined, { maxAmount: 10_000n });
    assert.equal(response.status, 200);
    assert.equal(p.asked, 1);
  });

  test('a maxAmount that is not a non-negative integer is invalid_option, before any request', async () => {
    let requested = 0;
    const counting: typeof fetch = async (input, init) => {
      requested += 1;
      return resource(input, init);
    };
    for (const maxAmount of ['-1', '0.5', '1e6', '', -1n]) {
      await assert.rejects(
        payingFetch(payer(), counting, 'http://127.0.0.1/data', undefined, { maxAmount }),
        (error: Clawd402ClientError) => error.code === 'invalid_option',
        String(maxAmount),
      );
    }
    assert.equal(requested, 0);
  });
});

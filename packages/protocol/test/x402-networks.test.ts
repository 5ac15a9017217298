// The one reading of an x402 requirement's `network`, shared by the SDK (choosing) and the gateway (checking).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { x402NetworkChainId } from '../src/index.ts';

describe('x402NetworkChainId', { timeout: 10_000 }, () => {
  test('CAIP-2 eip155 names and the v1 names read as their chain ids', () => {
    assert.equal(x402NetworkChainId('eip155:8453'), 8453);
    assert.equal(x402NetworkChainId('eip155:31337'), 31337);
    assert.equal(x402NetworkChainId('base'), 8453);
    assert.equal(x402NetworkChainId('base-sepolia'), 84532);
  });

  test('anything else is no chain: other namespaces, zero or padded ids, prototype keys, non-strings', () => {
    for (const network of [
      'solana:mainnet',
      'eip155:0',
      'eip155:08453',
      'eip155:8453 ',
      'EIP155:8453',
      'eip155:12345678901234567',
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      '',
      8453,
      null,
      undefined,
      { network: 'base' },
    ]) {
      assert.equal(x402NetworkChainId(network), undefined, JSON.stringify(network) ?? 'undefined');
    }
  });
});

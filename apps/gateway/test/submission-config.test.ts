// Submission settings (docs/submission.md): several RPC endpoints per chain, private relays, fee caps, and the
// replacement fee rule. Pure: no services.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGwei } from 'viem';
import { ConfigError, loadConfig } from '../src/config.ts';
import { replacementFees } from '../src/chain/chain-registry.ts';
import { scrubError, secretsOf } from '../src/chain/rpc-pool.ts';
import { assertConfigRefused, configFixture } from './support/config-env.ts';

describe('submission settings', () => {
  const fixture = configFixture('clawd402-submission-');
  const file = fixture.file;
  let base: Record<string, string>;
  before(() => {
    base = {
      ...fixture.test,
      CHAIN_RPC_URLS: '1=https://a.example.com|https://b.example.com/v2/key,8453=https://base.example.com',
    };
  });
  after(() => fixture.remove());
  test('CHAIN_RPC_URLS lists a primary and fallbacks per chain; relays, caps and thresholds are per chain or global', () => {
    const config = loadConfig({
      ...base,
      PRIVATE_RELAY_URLS: '1=https://relay.example.com',
      PRIVATE_RELAY_MIN_VALUE_USD: '250.5',
      CHAIN_MAX_FEE_GWEI: '1=300,8453=0.5',
      CHAIN_MAX_PRIORITY_FEE_GWEI: '1=3',
    });
    assert.deepEqual(config.chains, [
      {
        chainId: 1,
        rpcUrl: 'https://a.example.com',
        rpcUrls: ['https://a.example.com', 'https://b.example.com/v2/key'],
        privateRelayUrls: ['https://relay.example.com'],
        maxFeePerGasCap: parseGwei('300'),
        maxPriorityFeePerGasCap: parseGwei('3'),
      },
      {
        chainId: 8453,
        rpcUrl: 'https://base.example.com',
        rpcUrls: ['https://base.example.com'],
        maxFeePerGasCap: parseGwei('0.5'),
      },
    ]);
    assert.equal(config.submission.privateRelayMinValueUsd, 250_500_000n);
    assert.equal(config.submission.feeBumpPercent, 15);
    assert.equal(loadConfig(base).submission.privateRelayMinValueUsd, 1_000_000_000n, 'default: 1,000 USD');
  });

  test('bad settings stop the boot with the variable named, never the URL', () => {
    assertConfigRefused({ ...base, PRIVATE_RELAY_URLS: '10=https://relay.example.com' }, 'PRIVATE_RELAY_URLS');
    assertConfigRefused({ ...base, CHAIN_MAX_FEE_GWEI: '1=lots' }, 'CHAIN_MAX_FEE_GWEI');
    assertConfigRefused(
      { ...base, CHAIN_MAX_FEE_GWEI: '1=1', CHAIN_MAX_PRIORITY_FEE_GWEI: '1=2' },
      'CHAIN_MAX_PRIORITY_FEE_GWEI',
    );
    assertConfigRefused({ ...base, SUBMISSION_FEE_BUMP_PERCENT: '5' }, 'SUBMISSION_FEE_BUMP_PERCENT');
    assertConfigRefused({ ...base, CHAIN_RPC_URLS: '1=https://a.example.com|https://a.example.com' }, 'CHAIN_RPC_URLS');
    try {
      loadConfig({ ...base, CHAIN_RPC_URLS: '1=https://u:hunter2-secret@a.example.com|ftp://k3y-secret.example.com' });
      assert.fail('loaded');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.ok(!error.message.includes('hunter2-secret') && !error.message.includes('k3y-secret'), error.message);
    }
  });

  test('SECURITY: production refuses RPC credentials or API keys in the environment (files instead)', () => {
    const production = {
      ...base,
      NODE_ENV: 'production',
      REDIS_URL: 'rediss://redis.internal:6379',
      TRUSTED_PROXIES: '10.0.0.2',
      SECRETS_KEY_FILE: file('secrets.key', 'a'.repeat(64)),
    };
    assertConfigRefused({ ...production, CHAIN_RPC_URLS: '1=https://user:pw@rpc.example.com' }, 'CHAIN_RPC_URLS');
    assertConfigRefused({ ...production, CHAIN_RPC_URLS: '1=https://rpc.example.com/?apikey=abc' }, 'CHAIN_RPC_URLS');
    assertConfigRefused(
      { ...production, PRIVATE_RELAY_URLS: '1=https://user:pw@relay.example.com' },
      'PRIVATE_RELAY_URLS',
    );
    const fromFile = loadConfig({
      ...production,
      CHAIN_RPC_URLS: '',
      CHAIN_RPC_URLS_FILE: file('rpc-urls', '1=https://user:pw@rpc.example.com|https://b.example.com\n'),
    });
    assert.deepEqual(fromFile.chains[0]!.rpcUrls, ['https://user:pw@rpc.example.com', 'https://b.example.com']);
  });

  test('a replacement raises both fees by at least the bump, follows a higher market, and keeps max fee ≥ priority fee', () => {
    const current = { maxFeePerGas: 100n, maxPriorityFeePerGas: 10n };
    assert.deepEqual(replacementFees(current, { maxFeePerGas: 50n, maxPriorityFeePerGas: 5n }, 10), {
      maxFeePerGas: 110n,
      maxPriorityFeePerGas: 11n,
    });
    assert.deepEqual(replacementFees(current, { maxFeePerGas: 300n, maxPriorityFeePerGas: 40n }, 10), {
      maxFeePerGas: 300n,
      maxPriorityFeePerGas: 40n,
    });
    assert.deepEqual(
      replacementFees(
        { maxFeePerGas: 7n, maxPriorityFeePerGas: 7n },
        { maxFeePerGas: 1n, maxPriorityFeePerGas: 1n },
        15,
      ),
      { maxFeePerGas: 9n, maxPriorityFeePerGas: 9n },
      'rounded up',
    );
  });

  test('SECURITY: scrubbing takes credentials, path keys, query keys and URLs out of an error and its causes', () => {
    const url = 'https://rpcuser:pa55-w0rd-x@rpc.example.com/v2/0123456789abcdefKEY?apikey=qu3ry-s3cret';
    const cause = Object.assign(new Error(`connect failed for ${url}`), { url });
    const error = Object.assign(new Error('HTTP request failed.'), {
      shortMessage: 'HTTP request failed.',
      metaMessages: [`URL: ${url}`],
      details: `at /v2/0123456789abcdefKEY`,
      cause,
    });
    scrubError(error, secretsOf(url));
    const text = JSON.stringify({
      m: error.message,
      s: error.stack,
      meta: error.metaMessages,
      d: error.details,
      c: cause.message,
      cs: cause.stack,
      u: cause.url,
    });
    for (const secret of ['pa55-w0rd-x', '0123456789abcdefKEY', 'qu3ry-s3cret', 'rpcuser'])
      assert.ok(!text.includes(secret), `${secret} left in ${text}`);
  });
});

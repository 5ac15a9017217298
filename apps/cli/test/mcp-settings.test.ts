// clawd402-mcp never takes the agent's API key from the command line (argv is visible to every user of the machine
// in `ps`), and never echoes an argument it refuses (a key pasted in the wrong place must not reach a log).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpUsageError, readMcpSettings } from '../src/mcp-settings.ts';

const KEY = 'c402_live_0123456789abcdef';

describe('clawd402-mcp settings', () => {
  test('the gateway from --gateway, the key from CLAWD402_API_KEY or CLAWD402_API_KEY_FILE', () => {
    assert.deepEqual(readMcpSettings(['--gateway', 'http://127.0.0.1:8080'], { CLAWD402_API_KEY: KEY }), {
      gateway: 'http://127.0.0.1:8080',
      apiKey: KEY,
      chainIds: [],
    });
    const dir = mkdtempSync(join(tmpdir(), 'clawd402-mcp-'));
    try {
      writeFileSync(join(dir, 'key'), `${KEY}\n`, { mode: 0o600 });
      const settings = readMcpSettings([], {
        CLAWD402_GATEWAY_URL: 'https://gw.example.org',
        CLAWD402_API_KEY_FILE: join(dir, 'key'),
      });
      assert.deepEqual(settings, { gateway: 'https://gw.example.org', apiKey: KEY, chainIds: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fetch_paid chains from --chain (repeatable) or CLAWD402_CHAIN_IDS; anything but a chain id is a usage error', () => {
    const env = { CLAWD402_API_KEY: KEY, CLAWD402_CHAIN_IDS: '1, 10' };
    const gw = ['--gateway', 'http://127.0.0.1:8080'];
    assert.deepEqual(readMcpSettings([...gw, '--chain', '8453', '--chain=84532'], env).chainIds, [8453, 84532]);
    assert.deepEqual(readMcpSettings(gw, env).chainIds, [1, 10]);
    for (const bad of ['0', '-1', 'base', '1e3', '99999999999999999']) {
      assert.throws(() => readMcpSettings([...gw, '--chain', bad], env), McpUsageError, bad);
    }
  });

  test('a key on the command line is refused, and a refused argument is never echoed', () => {
    for (const argv of [
      ['--gateway', 'http://127.0.0.1:8080', '--api-key', KEY],
      ['--gateway', 'http://127.0.0.1:8080', `--apiKey=${KEY}`],
      ['--gateway', 'http://127.0.0.1:8080', KEY],
    ]) {
      assert.throws(
        () => readMcpSettings(argv, {}),
        (error: unknown) => error instanceof McpUsageError && !error.message.includes(KEY),
        argv.join(' '),
      );
    }
  });

  test('no key or no gateway is a usage error', () => {
    assert.throws(() => readMcpSettings(['--gateway', 'http://127.0.0.1:8080'], {}), McpUsageError);
    assert.throws(() => readMcpSettings([], { CLAWD402_API_KEY: KEY }), McpUsageError);
  });
});

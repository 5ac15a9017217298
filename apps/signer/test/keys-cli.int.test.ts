// The key-management CLI end to end: generate, import, list, assign, rotate, and serve's production refusals.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ANVIL_ACCOUNTS, runScript } from '@clawd402/testkit';
import { gatewayKeys, tempDir, writeFileText } from './support.ts';

const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const run = runScript(cliPath, args, repoRoot, env);
  const code = await run.exit;
  return { code, out: run.stdout(), err: run.stderr() };
}

async function json(args: string[]): Promise<any> {
  const run = await cli(args);
  assert.equal(run.code, 0, run.err);
  return JSON.parse(run.out.trim());
}

describe('clawd402-signer keys …', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const dir = join(tmp.dir, 'keys');
  const pw = writeFileText(join(tmp.dir, 'password'), 'cli keys password\n');
  const base = ['--key-dir', dir, '--password-file', pw, '--scrypt-n', '1024'];
  // anvil's PUBLIC dev account 9 (never real funds), imported from a file as a private key.
  const importedKey = writeFileText(join(tmp.dir, 'imported.key'), `${ANVIL_ACCOUNTS[9].privateKey}\n`);

  test('generate, import, list, assign and rotate; the directory is 0700 and nothing secret is printed', async () => {
    const random = await json(['keys', 'generate', ...base, '--label', 'ops', '--agent', 'agent-1']);
    assert.equal(random.backend, 'keystore');
    const hd = await json([
      'keys',
      'generate',
      ...base,
      '--hd-wallet',
      'main',
      '--hd-path-template',
      "m/44'/60'/1'/0/{index}",
      '--agent',
      'agent-2',
    ]);
    assert.deepEqual([hd.backend, hd.path, hd.index], ['hd', "m/44'/60'/1'/0/0", 0]);
    const imported = await json(['keys', 'import', ...base, '--private-key-file', importedKey]);
    assert.equal(imported.address, ANVIL_ACCOUNTS[9].address);
    const assigned = await json(['keys', 'assign', '--key-dir', dir, '--key', imported.id, '--agent', 'agent-3']);
    assert.equal(assigned.agent, 'agent-3');
    const rotated = await json(['keys', 'rotate', ...base, '--key', hd.id]);
    assert.deepEqual(
      [rotated.old.state, rotated.old.rotatedTo, rotated.new.path, rotated.new.agent],
      ['cancel_only', rotated.new.id, "m/44'/60'/1'/0/1", 'agent-2'],
    );
    const listing = await cli(['keys', 'list', '--key-dir', dir]);
    const listed = JSON.parse(listing.out.trim());
    assert.equal(listed.keys.length, 4);
    assert.deepEqual(
      listed.wallets.map((w: { name: string; nextIndex: number }) => [w.name, w.nextIndex]),
      [['main', 2]],
    );
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'keystores', `${imported.address}.json`)).mode & 0o777, 0o600);
    assert.equal(
      `${listing.out}${listing.err}`.toLowerCase().includes(ANVIL_ACCOUNTS[9].privateKey.slice(2).toLowerCase()),
      false,
    );
  });

  test('serve in production refuses to start without --policy', async () => {
    const gw = writeFileText(join(tmp.dir, 'gw.pub'), gatewayKeys().publicKeyPem);
    const common = [
      'serve',
      '--socket',
      join(tmp.dir, 'run', 's.sock'),
      '--key-dir',
      dir,
      '--password-file',
      pw,
      '--gateway-key',
      gw,
    ];
    const noPolicy = await cli(common, { NODE_ENV: 'production' });
    assert.equal(noPolicy.code, 1);
    assert.match(noPolicy.err, /requires --policy/);
  });
});

// The secret-scan gate (scripts/secret-scan.mjs, run by scripts/supply-chain.sh in CI): a private key planted outside
// the allowlist fails the scan, masked in the output; anvil's public development keys and transaction hashes do not.
// (It lives with the CLI tests because the test runner walks apps/ and packages/.)
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './support.ts';

const tmp = mkdtempSync(join(tmpdir(), 'c402scan-'));
const scan = (...files: string[]) =>
  spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/secret-scan.mjs'), ...files], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });

describe('secret scan gate', { timeout: 120_000 }, () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('SECURITY: a planted PEM private key fails the scan (exit 1), and the key is masked in the report', () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const file = join(tmp, 'deploy-key.pem');
    writeFileSync(file, pem);
    const r = scan(file);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /\[PrivateKey\] found private key/);
    assert.ok(!r.stdout.includes(pem.split('\n')[1]!), 'the key body must not be printed');
  });

  test('SECURITY: a raw EVM private key labelled as one fails the scan; anvil keys and a tx hash on the same kind of line do not', () => {
    const leaked = `0x${randomBytes(32).toString('hex')}`;
    const file = join(tmp, 'signer-config.ts');
    writeFileSync(file, `export const SIGNER_PRIVATE_KEY = '${leaked}';\n`);
    const r = scan(file);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /\[EVMPrivateKey\] found an EVM private key/);
    assert.ok(!r.stdout.includes(leaked.slice(2)), 'the key must not be printed');

    const fine = join(tmp, 'fixtures.ts');
    writeFileSync(
      fine,
      [
        "export const anvil0 = { privateKey: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' };",
        `export const txHash = '0x${randomBytes(32).toString('hex')}';`,
        '',
      ].join('\n'),
    );
    const clean = scan(fine);
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  });
});

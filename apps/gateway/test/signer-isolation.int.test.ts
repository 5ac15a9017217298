// Key material never reaches the gateway: after real intents were signed through it, neither a gateway process's
// environment nor a V8 heap snapshot of it holds the signing key, in any spelling. The signer's socket is 0600 in a
// 0700 directory. The snapshot is written by Node itself on a signal (--heapsnapshot-signal), not by any route.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { RECIPIENTS, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';

/** Every spelling of the key a leak could take: hex (any case, with or without 0x), raw bytes, base64. */
/**
 * ethers' v3 keystore decryption, resolved from the signer package (the gateway does not depend on ethers, and must
 * not: only the test needs it, to learn the key the way the signer does).
 */
async function decryptKeystoreJson(json: string, password: string): Promise<{ address: string; privateKey: string }> {
  const ethersPath = createRequire(new URL('../../signer/package.json', import.meta.url)).resolve('ethers');
  const ethers = (await import(ethersPath)) as { decryptKeystoreJson: typeof decryptKeystoreJson };
  return ethers.decryptKeystoreJson(json, password);
}

function needles(privateKeyHex: string): { text: string[]; bytes: Buffer[] } {
  const hex = privateKeyHex.replace(/^0x/, '').toLowerCase();
  const raw = Buffer.from(hex, 'hex');
  return { text: [hex, raw.toString('base64'), raw.toString('base64url')], bytes: [raw] };
}

/** Find any needle; text needles are compared case-insensitively (hex in upper or mixed case too). */
function findLeak(haystack: Buffer, privateKeyHex: string): string | null {
  const { text, bytes } = needles(privateKeyHex);
  const lower = haystack.toString('latin1').toLowerCase();
  for (const needle of text) if (lower.includes(needle.toLowerCase())) return `text ${needle.slice(0, 6)}…`;
  for (const needle of bytes) if (haystack.includes(needle)) return 'raw key bytes';
  return null;
}

async function waitForSnapshot(dir: string, pid: number): Promise<string> {
  for (let i = 0; i < 600; i += 1) {
    const file = readdirSync(dir).find((name) => name.endsWith('.heapsnapshot') && name.includes(`.${pid}.`));
    if (file) {
      const path = join(dir, file);
      // Node writes the snapshot synchronously on the signal; wait until its JSON is complete.
      const text = readFileSync(path, 'latin1');
      if (text.trimEnd().endsWith('}')) {
        try {
          JSON.parse(text);
          return path;
        } catch {
          /* still being written */
        }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no heap snapshot was written');
}

describe('signer isolation: the gateway never holds key material', () => {
  let stack: Stack;
  let privateKey: string;
  let gateway: { baseUrl: string; pid: number; stop(): Promise<void> };
  const snapshotDir = mkdtempSync(join(tmpdir(), 'c402-heap-'));

  before(async () => {
    stack = await startStack();
    // The test learns the key the way only the signer should: by decrypting the keystore with its password file.
    const account = await decryptKeystoreJson(
      readFileSync(join(stack.dir, 'keystore.json'), 'utf8'),
      readFileSync(join(stack.dir, 'signer-password'), 'utf8'),
    );
    privateKey = account.privateKey;
    assert.equal(account.address, stack.signerAddress);
    // A separate gateway process that writes a heap snapshot when sent SIGUSR2. spawnGateway passes process.env on.
    const previous = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${previous ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshotDir}`.trim();
    try {
      gateway = await stack.spawnGateway();
    } finally {
      if (previous === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = previous;
    }
  });
  after(async () => {
    await stack?.stop();
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  test('the signer socket is mode 0600 in a 0700 directory', () => {
    const socket = stack.env.SIGNER_SOCKET!;
    assert.equal(statSync(socket).isSocket(), true);
    assert.equal(statSync(socket).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(socket)).mode & 0o777, 0o700);
  });

  test('intents signed through a gateway process leave no key bytes in its environment or its heap', async () => {
    const token = await (async () => {
      const res = await fetch(`${gateway.baseUrl}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: stack.agent.apiKey }),
      });
      return ((await res.json()) as { access_token: string }).access_token;
    })();
    for (let i = 0; i < 3; i += 1) {
      const created = await postIntent(
        gateway.baseUrl,
        token,
        { type: 'transfer', chainId: stack.anvil.chainId, to: RECIPIENTS[i], asset: 'native', amount: '0.001' },
        { 'Idempotency-Key': `isolation-${i}` },
      );
      assert.ok(
        created.status === 200 || created.status === 201 || created.status === 202,
        `intent answered ${created.status}`,
      );
      await waitForStatus(gateway.baseUrl, token, created.body.id, ['signed', 'submitted', 'confirmed']);
    }

    const environ = readFileSync(`/proc/${gateway.pid}/environ`);
    assert.equal(findLeak(environ, privateKey), null, 'the gateway environment holds the key');

    process.kill(gateway.pid, 'SIGUSR2');
    const snapshot = readFileSync(await waitForSnapshot(snapshotDir, gateway.pid));
    // The search works: the snapshot does hold what the gateway legitimately knows (the signer's address).
    assert.ok(
      snapshot.toString('latin1').toLowerCase().includes(stack.signerAddress.slice(2).toLowerCase()),
      'control: the signer address is in the heap',
    );
    assert.equal(findLeak(snapshot, privateKey), null, 'the gateway heap holds the key');
  });
});

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TSX_LOADER } from '../src/dev/signer-process.ts';

const LAUNCHER = new URL('../src/dev/embedded.ts', import.meta.url).pathname;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * The README's run command on the embedded default, end to end: PGlite, anvil, the signer process and the gateway
 * start with no configuration; the printed credentials work; Ctrl-C stops every child.
 */
describe('quick start: embedded default', () => {
  const state = mkdtempSync(join(tmpdir(), 'clawd402-quickstart-'));
  let child: ChildProcess | null = null;
  const env = {
    ...process.env,
    NODE_ENV: 'development',
    CLAWD402_STATE_DIR: state,
    DATABASE_URL: '',
    REDIS_URL: '',
    CHAIN_RPC_URLS: '',
    POLICY_FILE: '',
  };
  for (const key of ['DATABASE_URL', 'REDIS_URL', 'CHAIN_RPC_URLS', 'POLICY_FILE'] as const) delete env[key];
  after(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    rmSync(state, { recursive: true, force: true });
  });

  /** Start the launcher as `pnpm start` does and wait for its ready banner; returns what it printed. */
  async function launch(port: number, anvilPort: number): Promise<string> {
    child = spawn(process.execPath, ['--import', TSX_LOADER, LAUNCHER], {
      env: { ...env, PORT: String(port), ANVIL_PORT: String(anvilPort), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      child!.once('exit', (code) => reject(new Error(`launcher exited with ${code}: ${output}`)));
      createInterface({ input: child!.stdout! }).on('line', (line) => {
        output += `${line}\n`;
        if (line.includes('Ctrl-C stops')) resolve();
      });
    });
    child.removeAllListeners('exit');
    return output;
  }

  async function stopLauncher(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    child!.kill('SIGINT');
    return exited;
  }

  const ownerLogin = async (baseUrl: string, password: string) =>
    (
      await fetch(`${baseUrl}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'owner', password }),
      })
    ).status;

  test('starts with no configuration, writes working credentials, moves money on anvil, and Ctrl-C stops everything', async () => {
    const [port, anvilPort] = [await freePort(), await freePort()];
    const output = await launch(port, anvilPort);
    assert.match(output, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}`));
    assert.match(output, /curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/intents/);
    // The dev signer runs with its own caps (defence in depth below the gateway's policy).
    assert.match(readFileSync(join(state, 'signer/policy.yaml'), 'utf8'), /maxValuePerTx: "1\.01"/);

    const path = join(state, 'dev-credentials.json');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const c = JSON.parse(readFileSync(path, 'utf8'));
    for (const key of [
      'baseUrl',
      'agentApiKey',
      'ownerUsername',
      'ownerPassword',
      'chainId',
      'rpcUrl',
      'signerAddress',
    ])
      assert.ok(c[key], key);
    assert.equal(c.chainId, 31337);
    assert.equal(c.baseUrl, `http://127.0.0.1:${port}`);

    // The curl flow the launcher prints, done with fetch.
    const tokenRes = await fetch(`${c.baseUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: c.agentApiKey }),
    });
    assert.equal(tokenRes.status, 200);
    const { access_token: token } = (await tokenRes.json()) as { access_token: string };
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    /** POST /v1/intents: a native transfer of `amount` ETH to anvil's dev account 1, as the README's example sends. */
    const sendTransfer = (amount: string) =>
      fetch(`${c.baseUrl}/v1/intents`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          type: 'transfer',
          chainId: 31337,
          to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
          asset: 'native',
          amount,
        }),
      });
    const ok = await sendTransfer('0.01');
    assert.equal(ok.status, 201);
    const intent = (await ok.json()) as { id: string; status: string };
    let status = intent.status;
    for (let i = 0; i < 100 && status !== 'confirmed'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = ((await (await fetch(`${c.baseUrl}/v1/intents/${intent.id}`, { headers })).json()) as { status: string })
        .status;
    }
    assert.equal(status, 'confirmed');
    // The dev policy: more than 1 ETH is rejected, nothing signed.
    const big = await sendTransfer('1.5');
    assert.equal(big.status, 403);
    assert.equal(((await big.json()) as { code: string }).code, 'policy_denied');

    // The owner credentials work too (and leave a session behind for the next test).
    assert.equal(await ownerLogin(c.baseUrl, c.ownerPassword), 200);

    // Ctrl-C: the launcher exits 0 and takes anvil, the signer and the gateway with it.
    assert.equal(await stopLauncher(), 0);
    assert.equal(await portAnswers(port), false, 'gateway port closed');
    assert.equal(await portAnswers(anvilPort), false, 'anvil stopped');
    assert.equal(existsSync(join(state, 'signer/run/signer.sock')), false, 'signer socket removed');
    assert.ok(existsSync(join(state, 'pg/data')), 'state stays under the state directory');
  });

  test('with the credentials file lost but the state kept, a restart issues new credentials (regression: the old owner row has sessions)', async () => {
    const before = JSON.parse(readFileSync(join(state, 'dev-credentials.json'), 'utf8'));
    rmSync(join(state, 'dev-credentials.json'));
    const [port, anvilPort] = [await freePort(), await freePort()];
    await launch(port, anvilPort);
    try {
      const c = JSON.parse(readFileSync(join(state, 'dev-credentials.json'), 'utf8'));
      assert.notEqual(c.ownerPassword, before.ownerPassword);
      assert.equal(await ownerLogin(c.baseUrl, c.ownerPassword), 200);
      assert.equal(await ownerLogin(c.baseUrl, before.ownerPassword), 401, 'the lost password no longer works');
      const token = await fetch(`${c.baseUrl}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: c.agentApiKey }),
      });
      assert.equal(token.status, 200);
    } finally {
      assert.equal(await stopLauncher(), 0);
    }
  });

  test('NODE_ENV=production refuses the embedded default before starting anything', () => {
    const result = spawnSync(process.execPath, ['--import', TSX_LOADER, LAUNCHER], {
      env: { ...env, NODE_ENV: 'production', CLAWD402_STATE_DIR: join(state, 'prod') },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /production refuses the embedded default/);
    assert.equal(existsSync(join(state, 'prod')), false, 'nothing was created');
  });
});

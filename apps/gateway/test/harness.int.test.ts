import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack } from './support/stack.ts';

const FIXTURE = new URL('./fixtures/hanging-file.ts', import.meta.url).pathname;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // a zombie is dead, only not yet reaped
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false; // gone between the two looks
  }
};

/** The pids of the `sh` guards (testkit child-guard.ts) still watching `pid`. */
function guardsOf(pid: number): number[] {
  const guards: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0] === '/bin/sh' && args[3] === 'clawd402-child-guard' && args[4] === String(pid)) guards.push(+entry);
    } catch {
      // gone meanwhile
    }
  }
  return guards;
}

function withoutTestContext(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _nested, ...rest } = env;
  return rest;
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) if (condition()) return true;
  return condition();
}

describe('the test harness', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'clawd402-harness-'));
  const leftovers: number[] = [];
  after(() => {
    for (const pid of leftovers) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a test file killed mid-run (as on a timeout) takes its gateway and signer with it, and the run ends red', async () => {
    // Regression (CI, 2026-12-03): the runner killed a file that had timed out; the gateway and signer it had spawned
    // lived on holding the runner's output open, and the run hung instead of failing.
    const pidsFile = join(dir, 'pids.json');
    const run = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', FIXTURE], {
      // without NODE_TEST_CONTEXT, node --test runs the fixture as a run of its own, not nested in this one
      env: { ...withoutTestContext(process.env), HANGING_FILE_PIDS: pidsFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    run.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    run.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    // 'close': the run exited and every process holding its output has let go
    const closed = new Promise<number | null>((resolve) => run.once('close', (code) => resolve(code)));
    assert.ok(await until(() => existsSync(pidsFile) || run.exitCode !== null, 120_000), 'the fixture never started');
    assert.ok(existsSync(pidsFile), output);
    const pids = JSON.parse(readFileSync(pidsFile, 'utf8')) as { test: number; gateway: number; signer: number };
    leftovers.push(pids.gateway, pids.signer);
    assert.ok(alive(pids.gateway) && alive(pids.signer));

    process.kill(pids.test, 'SIGKILL'); // no handler runs: only the guards can act
    assert.ok(await until(() => !alive(pids.gateway), 15_000), `gateway ${pids.gateway} outlived its test file`);
    assert.ok(await until(() => !alive(pids.signer), 15_000), `signer ${pids.signer} outlived its test file`);
    const code = await Promise.race([closed, sleep(30_000).then(() => 'still running' as const)]);
    assert.notEqual(code, 'still running', 'the run hung after its file died');
    assert.notEqual(code, 0, output);
  });

  test('a gateway and a signer stopped on purpose leave no guard behind (a stale guard could signal a reused pid)', async () => {
    const stack = await startStack({});
    try {
      const gateway = await stack.spawnGateway();
      const signerPid = stack.signer.child.pid!;
      assert.equal(guardsOf(gateway.pid).length, 1, 'the gateway is guarded while it runs');
      assert.equal(guardsOf(signerPid).length, 1, 'the signer is guarded while it runs');
      await gateway.stop();
      await stack.restartSigner();
      assert.ok(await until(() => guardsOf(gateway.pid).length === 0, 5_000), 'the gateway guard outlived the stop');
      assert.ok(await until(() => guardsOf(signerPid).length === 0, 5_000), 'the signer guard outlived the restart');
    } finally {
      await stack.stop();
    }
  });
});

// The scheduled backup job with a real destination (docs/jobs.md, docs/recovery.md): the job runs the real
// `clawd402 backup create` against the gateway's database, and the real `clawd402 backup verify` accepts what it wrote.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScript } from '@clawd402/testkit';
import { startStack, type Stack } from './support/stack.ts';
import { runJobNow } from './support/jobs.ts';

const CLI = fileURLToPath(new URL('../../cli/src/cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `clawd402 …args --json` as an operator runs it, to the end: its exit status and the JSON it printed. */
async function clawd402(args: string[]): Promise<{ status: number | null; json: any; stderr: string }> {
  const run = runScript(CLI, [...args, '--json'], ROOT);
  const status = await run.exit;
  return { status, json: JSON.parse(run.stdout() || '{}'), stderr: run.stderr() };
}

describe('the scheduled backup job', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'clawd402-backup-job-'));
  const identity = join(dir, 'identity.txt');
  const store = join(dir, 'backups');
  let stack: Stack;
  let owner: string;

  before(async () => {
    // The identity stays with the test (the recovery side); the gateway is given only its recipient.
    const keygen = await clawd402(['backup', 'keygen', '--out', identity]);
    assert.equal(keygen.status, 0, keygen.stderr);
    stack = await startStack({
      env: {
        JOBS_POLL_INTERVAL_MS: '200',
        BACKUP_SCHEDULE: '0 0 1 1 *',
        BACKUP_LOCATION: store,
        BACKUP_RECIPIENT: keygen.json.recipient,
      },
    });
    owner = await stack.loginAs('owner');
  });
  after(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a run writes an encrypted backup of the database that backup verify decrypts and checks', async () => {
    const run = await runJobNow(stack, owner, 'backup');
    assert.equal(run.outcome, 'succeeded', JSON.stringify(run));
    assert.match(run.detail.manifestSha256, /^[0-9a-f]{64}$/);
    assert.ok(run.detail.rows > 0, 'the database had rows to back up');

    const verified = await clawd402([
      'backup',
      'verify',
      '--from',
      store,
      '--id',
      run.detail.id,
      '--identity',
      identity,
    ]);
    assert.equal(verified.status, 0, JSON.stringify(verified.json));
    assert.equal(verified.json.id, run.detail.id);
    assert.equal(verified.json.decrypted, true);
  });
});

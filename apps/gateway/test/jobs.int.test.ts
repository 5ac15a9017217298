import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from './support/stack.ts';

/**
 * Two gateway processes share the scheduled jobs (docs/jobs.md): each occurrence runs on exactly one of them, and a
 * process killed mid-job (SIGKILL: no shutdown, no lease release) leaves the job to the other once its lease lapses.
 */
describe('scheduled jobs across two gateway processes', { timeout: 300_000 }, () => {
  let stack: Stack;
  let replicas: { baseUrl: string; pid: number; stop(): Promise<void> }[];

  interface RunRow {
    id: string;
    scheduled_for: Date;
    attempt: number;
    runner: string;
    outcome: string;
  }
  const runs = async (): Promise<RunRow[]> =>
    (
      await stack.pool.query<RunRow>(
        `SELECT id, scheduled_for, attempt, runner, outcome FROM job_runs
          WHERE job = 'retention' AND trigger = 'schedule' ORDER BY id`,
      )
    ).rows;
  const pidOf = (runner: string): number => Number(runner.split(':').at(-2));

  async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>): Promise<T> {
    for (let i = 0; i < 600; i += 1) {
      const value = await fn();
      if (value) return value;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  before(async () => {
    // The in-process gateway runs no jobs; the two spawned ones run retention every 2 seconds.
    stack = await startStack({ env: { JOB_RUNNER: 'off' } });
    const env = {
      JOB_RUNNER: 'on',
      JOBS_POLL_INTERVAL_MS: '100',
      JOBS_LEASE_MS: '2000',
      RETENTION_SCHEDULE: '*/2 * * * * *',
      AUDIT_VERIFY_SCHEDULE: '0 0 1 1 *',
      BACKUP_SCHEDULE: '0 0 1 1 *',
    };
    replicas = await Promise.all([stack.spawnGateway(env), stack.spawnGateway(env)]);
  });
  after(async () => stack?.stop());

  it('runs each occurrence exactly once between the two processes', async () => {
    const done = await until('six completed occurrences', async () => {
      const completed = (await runs()).filter((r) => r.outcome === 'succeeded');
      return completed.length >= 6 && completed;
    });
    const byOccurrence = new Map<string, RunRow[]>();
    for (const run of await runs()) {
      const key = run.scheduled_for.toISOString();
      byOccurrence.set(key, [...(byOccurrence.get(key) ?? []), run]);
    }
    for (const [occurrence, list] of byOccurrence) {
      assert.equal(list.length, 1, `occurrence ${occurrence} ran ${list.length} times`);
    }
    // Both processes took part (each claims whatever is due when it polls first).
    const pids = new Set(done.map((r) => pidOf(r.runner)));
    assert.ok([...pids].every((pid) => replicas.some((r) => r.pid === pid)));
    // Occurrences are the schedule's: whole even seconds, each one later than the one before.
    const times = [...byOccurrence.keys()].map((k) => new Date(k).getTime());
    assert.ok(times.every((t) => t % 2000 === 0));
    assert.deepEqual(
      [...times].sort((a, b) => a - b),
      times,
    );
  });

  it('a process killed mid-job leaves the occurrence to the other after the lease', async () => {
    // Hold the table the purge deletes from: the next run blocks inside its first batch.
    const blocker = await stack.pool.connect();
    let killed: RunRow;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE refresh_tokens IN ACCESS EXCLUSIVE MODE');
      killed = await until('a run blocked mid-job', async () => (await runs()).find((r) => r.outcome === 'running'));
      const victim = replicas.find((r) => r.pid === pidOf(killed.runner))!;
      process.kill(victim.pid, 'SIGKILL');
      replicas = replicas.filter((r) => r !== victim);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    const survivor = replicas[0]!;
    const retried = await until('the same occurrence retried by the other process', async () =>
      (await runs()).find(
        (r) =>
          r.scheduled_for.getTime() === killed.scheduled_for.getTime() &&
          r.id !== killed.id &&
          r.outcome === 'succeeded',
      ),
    );
    assert.equal(pidOf(retried.runner), survivor.pid);
    assert.equal(retried.attempt, killed.attempt + 1);
    const first = (await runs()).find((r) => r.id === killed.id)!;
    assert.equal(first.outcome, 'abandoned');
    const same = (await runs()).filter((r) => r.scheduled_for.getTime() === killed.scheduled_for.getTime());
    assert.deepEqual(
      same.map((r) => r.outcome),
      ['abandoned', 'succeeded'],
    );
    // The survivor carries on with the following occurrences.
    await until('a later occurrence', async () =>
      (await runs()).find((r) => r.scheduled_for > killed.scheduled_for && r.outcome === 'succeeded'),
    );
  });
});

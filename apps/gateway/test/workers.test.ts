// The worker lifecycle every background job shares (src/workers): ticks never overlap, a failing tick is logged and
// the job keeps going, wake() runs a tick without waiting for the interval, stop() waits for the running tick and
// nothing runs after it. Pure timers, no services.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Worker, type WorkerDefinition } from '../src/workers/worker.ts';
import { WorkerSet } from '../src/workers/worker-set.ts';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A job that ticks at once and then every millisecond (as fast as a test can watch it). */
function fastJob(
  name: string,
  tick: WorkerDefinition['tick'],
  options: Partial<WorkerDefinition> = {},
): WorkerDefinition {
  return { name, intervalMs: 1, firstTickMs: 0, ...options, tick };
}

/** A log that records error lines (the worker's only output). */
function recordingLog() {
  const errors: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = {
    ...silent,
    error: (obj: Record<string, unknown>, msg: string) => void errors.push({ obj, msg }),
  } as unknown as typeof silent;
  return { log, errors };
}

describe('Worker', { timeout: 30_000 }, () => {
  test('ticks never overlap, even when woken while one runs', async () => {
    let active = 0;
    let maxActive = 0;
    let ticks = 0;
    const worker = new Worker(
      fastJob('slow', async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(5);
        ticks += 1;
        active -= 1;
      }),
      silent,
    );
    worker.start();
    for (let i = 0; i < 20; i += 1) {
      worker.wake();
      await sleep(1);
    }
    await eventually(() => ticks >= 10, 'ten ticks');
    await worker.stop();
    assert.equal(maxActive, 1);
  });

  test('a failing tick is logged with the worker name and the job keeps going', async () => {
    const { log, errors } = recordingLog();
    let calls = 0;
    const worker = new Worker(
      fastJob(
        'flaky',
        async () => {
          calls += 1;
          if (calls <= 2) throw new Error(`boom ${calls}`);
        },
        { maxBackoffMs: 5 },
      ),
      log,
    );
    worker.start();
    await eventually(() => calls >= 4, 'ticks after the failures');
    await worker.stop();
    assert.deepEqual(
      errors.map((e) => [e.obj.worker, e.obj.failures, (e.obj.err as Error).message]),
      [
        ['flaky', 1, 'boom 1'],
        ['flaky', 2, 'boom 2'],
      ],
    );
    assert.equal(worker.info().failures, 0, 'a successful tick resets the failure count');
  });

  test('wake() runs a tick long before the interval; `again` runs the next one at once', async () => {
    let ticks = 0;
    const worker = new Worker(
      {
        name: 'sleepy',
        intervalMs: 3_600_000,
        tick: async () => {
          ticks += 1;
          return { again: ticks < 3 };
        },
      },
      silent,
    );
    worker.start();
    worker.wake();
    await eventually(() => ticks === 3, 'the woken tick and the two it asked for');
    await sleep(20);
    assert.equal(ticks, 3, 'then it waits for the interval');
    await worker.stop();
  });

  test('stop() waits for the running tick, and nothing runs after it', async () => {
    let finished = false;
    let started = 0;
    let release!: () => void;
    const worker = new Worker(
      fastJob('busy', async () => {
        started += 1;
        await new Promise<void>((resolve) => (release = resolve));
        finished = true;
      }),
      silent,
    );
    worker.start();
    await eventually(() => started === 1, 'the tick to start');
    const stopped = worker.stop();
    let stopResolved = false;
    void stopped.then(() => (stopResolved = true));
    await sleep(10);
    assert.equal(stopResolved, false, 'stop() is still waiting for the tick');
    release();
    await stopped;
    assert.equal(finished, true);
    worker.wake();
    worker.start();
    await sleep(20);
    assert.equal(started, 1, 'a stopped worker stays stopped');
  });
});

describe('WorkerSet', { timeout: 30_000 }, () => {
  test('starts and stops every registered worker together and refuses a duplicate name', async () => {
    const set = new WorkerSet(silent);
    const counts = { a: 0, b: 0 };
    set.add(fastJob('a', async () => void (counts.a += 1)));
    set.add(fastJob('b', async () => void (counts.b += 1)));
    assert.throws(() => set.add({ name: 'a', intervalMs: 1, tick: async () => {} }), /already registered/);
    assert.deepEqual(
      set.list().map((w) => [w.name, w.intervalMs, w.wakeOn]),
      [
        ['a', 1, null],
        ['b', 1, null],
      ],
    );
    set.start();
    await eventually(() => counts.a > 2 && counts.b > 2, 'both workers to tick');
    await set.stop();
    const after = { ...counts };
    await sleep(20);
    assert.deepEqual(counts, after, 'nothing ticks after stop()');
  });
});

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { logEvent } from '@clawd402/protocol';
import type { Logger } from '../domain/logger.ts';
import {
  claimDueJob,
  finishJobRun,
  listJobRuns,
  listJobs,
  renewJobLease,
  upsertJob,
  type ClaimedJob,
  type JobRow,
  type JobRunRow,
} from '../repositories/jobs-repository.ts';
import { nextOccurrence } from './schedule.ts';

export type { JobRow, JobRunRow } from '../repositories/jobs-repository.ts';

/** What a run came to. `failed` here is final for the occurrence (no retry); a thrown error is retried. */
export interface JobResult {
  outcome: 'succeeded' | 'skipped' | 'failed';
  /** JSON-safe figures for the run history (counts, ids). Never secrets. */
  detail?: Record<string, unknown>;
  /** With `failed`: our own sentence. */
  error?: string;
}

export interface JobContext {
  log: Logger;
  /** Aborted when the lease is lost or the process is stopping: stop between batches. */
  signal: AbortSignal;
  attempt: number;
  trigger: 'schedule' | 'manual';
  /** The occurrence this run serves (for a manual run, when it was asked for); the same on every retry of it. */
  scheduledFor: Date;
}

/** A cluster-wide periodic job: run by exactly one replica per occurrence (docs/jobs.md). */
export interface JobDefinition {
  /** Short, stable, kebab-case: its row in `jobs` and its label in metrics. */
  name: string;
  /** Cron expression, UTC (schedule.ts). */
  schedule: string;
  /** Attempts per occurrence before it is recorded failed and left to the next one (default 3). */
  maxAttempts?: number;
  run(context: JobContext): Promise<JobResult>;
}

export interface JobRunnerDeps {
  pool: pg.Pool;
  log: Logger;
  jobs: readonly JobDefinition[];
  /** How long a claim holds without renewal; renewed every third of it while the job runs. */
  leaseMs: number;
  /** First retry after this, doubling per attempt. */
  retryBaseMs: number;
  /** Told of every finished run (metrics). */
  onRun?: (job: string, outcome: JobResult['outcome'] | 'lost', seconds: number) => void;
}

export interface JobListing extends JobRow {
  maxAttempts: number;
  runs: JobRunRow[];
}

/**
 * Claims due jobs from Postgres and runs them (the `job-runner` worker's tick): one job per call, under a lease that
 * a heartbeat renews while it runs. A thrown error is retried after `retryBaseMs × 2^(attempt − 1)` up to the job's
 * `maxAttempts`, then the occurrence is recorded failed and the next one is scheduled. A replica that dies mid-run
 * stops renewing; after the lease another replica claims the same occurrence (docs/jobs.md).
 */
export class JobRunner {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly byName: Map<string, JobDefinition>;
  private readonly stopping = new AbortController();

  constructor(private readonly deps: JobRunnerDeps) {
    this.byName = new Map(deps.jobs.map((j) => [j.name, j]));
  }

  /** Write every job's schedule (each replica at start-up; a changed schedule moves the next occurrence). */
  async register(now = new Date()): Promise<void> {
    for (const job of this.deps.jobs) {
      await upsertJob(this.deps.pool, {
        name: job.name,
        schedule: job.schedule,
        firstOccurrence: nextOccurrence(job.schedule, now),
      });
    }
  }

  /** Stop renewing and tell the running job to stop between batches (its lease then lapses or it finishes). */
  stop(): void {
    this.stopping.abort();
  }

  /** Claim and run one due job; `{ again: true }` when one ran (another may be due). */
  async tick(): Promise<{ again: boolean }> {
    if (this.stopping.signal.aborted) return { again: false };
    const claimed = await claimDueJob(this.deps.pool, {
      id: this.id,
      names: [...this.byName.keys()],
      leaseMs: this.deps.leaseMs,
    });
    if (!claimed) return { again: false };
    await this.runClaimed(claimed, this.byName.get(claimed.name)!);
    return { again: true };
  }

  /** Every job with its latest `runs` runs (newest first). */
  async list(runs: number): Promise<JobListing[]> {
    const jobs = await listJobs(this.deps.pool);
    const history = await listJobRuns(
      this.deps.pool,
      jobs.map((j) => j.name),
      runs,
    );
    return jobs.map((job) => ({
      ...job,
      maxAttempts: this.byName.get(job.name)?.maxAttempts ?? 3,
      runs: history.filter((r) => r.job === job.name),
    }));
  }

  private async runClaimed(claimed: ClaimedJob, job: JobDefinition): Promise<void> {
    const { pool, log, leaseMs } = this.deps;
    const started = performance.now();
    const lost = new AbortController();
    const signal = AbortSignal.any([lost.signal, this.stopping.signal]);
    const heartbeat = setInterval(
      () =>
        void renewJobLease(pool, { name: job.name, runId: claimed.runId, runner: this.id, leaseMs })
          .then((held) => {
            if (!held) lost.abort();
          })
          .catch((error: unknown) => log.warn({ err: error, job: job.name }, 'job lease renewal failed')),
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    heartbeat.unref();
    let result: JobResult;
    let retry = false;
    try {
      result = await job.run({
        log,
        signal,
        attempt: claimed.attempt,
        trigger: claimed.trigger,
        scheduledFor: claimed.scheduledFor,
      });
    } catch (error) {
      logEvent(log, 'system.job_failed', { err: error, job: job.name, attempt: claimed.attempt });
      result = { outcome: 'failed', error: errorSentence(error) };
      retry = claimed.trigger === 'schedule' && claimed.attempt < (job.maxAttempts ?? 3);
    } finally {
      clearInterval(heartbeat);
    }
    const next = this.nextStep(claimed, job, retry);
    const recorded = await finishJobRun(pool, {
      name: job.name,
      runId: claimed.runId,
      runner: this.id,
      outcome: result.outcome,
      detail: result.detail ?? {},
      error: result.error ?? null,
      next,
    });
    if (!recorded) logEvent(log, 'system.job_lease_lost', { job: job.name, runId: claimed.runId });
    this.deps.onRun?.(job.name, recorded ? result.outcome : 'lost', (performance.now() - started) / 1000);
  }

  private nextStep(
    claimed: ClaimedJob,
    job: JobDefinition,
    retry: boolean,
  ): { kind: 'occurrence'; at: Date } | { kind: 'retry'; at: Date } | { kind: 'manual' } {
    if (claimed.trigger === 'manual') return { kind: 'manual' };
    const now = new Date();
    // Missed occurrences (every replica down for a while) are not replayed: one run, then the next one from now.
    const following = nextOccurrence(job.schedule, now > claimed.scheduledFor ? now : claimed.scheduledFor);
    if (retry) {
      const at = new Date(now.getTime() + this.deps.retryBaseMs * 2 ** (claimed.attempt - 1));
      if (at < following) return { kind: 'retry', at };
    }
    return { kind: 'occurrence', at: following };
  }
}

/** A short sentence for the run history: the error's message, cut to 300 characters. */
function errorSentence(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 300 ? `${message.slice(0, 297)}...` : message;
}

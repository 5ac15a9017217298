import type pg from 'pg';
import { withTransaction } from '../db/pool.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

export type JobTrigger = 'schedule' | 'manual';
export type JobOutcome = 'running' | 'succeeded' | 'skipped' | 'failed' | 'abandoned';

/** One job as the table holds it (migrations/0018_jobs.sql). */
export interface JobRow {
  name: string;
  schedule: string;
  occurrenceAt: Date;
  nextRunAt: Date;
  attempts: number;
  requestedAt: Date | null;
  leaseOwner: string | null;
  leaseUntil: Date | null;
}

export interface JobRunRow {
  id: string;
  job: string;
  trigger: JobTrigger;
  scheduledFor: Date;
  attempt: number;
  runner: string;
  startedAt: Date;
  finishedAt: Date | null;
  outcome: JobOutcome;
  detail: Record<string, unknown>;
  error: string | null;
}

/** A job claimed under a lease: run it, then finish the run (or let the lease lapse). */
export interface ClaimedJob {
  name: string;
  runId: string;
  trigger: JobTrigger;
  scheduledFor: Date;
  attempt: number;
}

// Columns under the names of JobRow and JobRunRow (ids as text: bigserial would not fit a JS number everywhere).
const JOB_COLUMNS = `name, schedule, occurrence_at AS "occurrenceAt", next_run_at AS "nextRunAt", attempts,
  requested_at AS "requestedAt", lease_owner AS "leaseOwner", lease_until AS "leaseUntil"`;
const RUN_COLUMNS = `id::text AS id, job, trigger, scheduled_for AS "scheduledFor", attempt, runner,
  started_at AS "startedAt", finished_at AS "finishedAt", outcome, detail, error`;

/**
 * Register a job (at start-up, from every replica). A new job is due at `firstOccurrence`; a changed schedule moves
 * the next occurrence to `firstOccurrence`; an unchanged one keeps its state.
 */
export async function upsertJob(
  db: Queryable,
  job: { name: string; schedule: string; firstOccurrence: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO jobs (name, schedule, occurrence_at, next_run_at) VALUES ($1, $2, $3, $3)
     ON CONFLICT (name) DO UPDATE SET schedule = EXCLUDED.schedule, occurrence_at = EXCLUDED.occurrence_at,
       next_run_at = EXCLUDED.next_run_at, attempts = 0, updated_at = now()
     WHERE jobs.schedule <> EXCLUDED.schedule`,
    [job.name, job.schedule, job.firstOccurrence],
  );
}

/**
 * Claim one due job among `names` for `runner` until now + `leaseMs`, and open its run. Due: asked to run now, or
 * past `next_run_at`; free: no lease, or a lease that lapsed (its runner died). Rows another replica is claiming are
 * skipped (FOR UPDATE SKIP LOCKED), so each occurrence goes to exactly one replica. A lapsed lease's run is marked
 * abandoned and counts as an attempt. Answers null when nothing is due.
 */
export async function claimDueJob(
  pool: pg.Pool,
  runner: { id: string; names: readonly string[]; leaseMs: number },
): Promise<ClaimedJob | null> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{
      name: string;
      occurrence_at: Date;
      attempts: number;
      requested_at: Date | null;
      run_id: string | null;
    }>(
      `SELECT name, occurrence_at, attempts, requested_at, run_id
         FROM jobs
        WHERE name = ANY($1::text[])
          AND (requested_at IS NOT NULL OR next_run_at <= now())
          AND (lease_until IS NULL OR lease_until < now())
        ORDER BY requested_at NULLS LAST, next_run_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED`,
      [runner.names],
    );
    const row = rows[0];
    if (!row) return null;
    if (row.run_id !== null) {
      await client.query(
        `UPDATE job_runs SET outcome = 'abandoned', finished_at = now(),
           error = 'the replica running it stopped renewing its lease' WHERE id = $1 AND outcome = 'running'`,
        [row.run_id],
      );
    }
    const manual = row.requested_at !== null;
    // A lapsed lease of a scheduled occurrence was an attempt; a manual run is one attempt of its own.
    const attempt = manual ? 1 : row.attempts + 1;
    const scheduledFor = row.requested_at ?? row.occurrence_at;
    const run = await client.query<{ id: string }>(
      `INSERT INTO job_runs (job, trigger, scheduled_for, attempt, runner) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [row.name, manual ? 'manual' : 'schedule', scheduledFor, attempt, runner.id],
    );
    const runId = run.rows[0]!.id;
    await client.query(
      `UPDATE jobs SET lease_owner = $2, lease_until = now() + $3 * interval '1 millisecond', run_id = $4,
         attempts = CASE WHEN $5 THEN attempts ELSE $6 END, updated_at = now()
       WHERE name = $1`,
      [row.name, runner.id, runner.leaseMs, runId, manual, attempt],
    );
    return { name: row.name, runId, trigger: manual ? 'manual' : 'schedule', scheduledFor, attempt };
  });
}

/** Extend a lease still held; false when it was lost (lapsed and claimed by another replica). */
export async function renewJobLease(
  db: Queryable,
  lease: { name: string; runId: string; runner: string; leaseMs: number },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET lease_until = now() + $4 * interval '1 millisecond'
      WHERE name = $1 AND run_id = $2 AND lease_owner = $3`,
    [lease.name, lease.runId, lease.runner, lease.leaseMs],
  );
  return rowCount === 1;
}

/**
 * Record how a run ended and release the lease, in one transaction, only while the lease is still this run's (a run
 * whose lease lapsed and was taken over records nothing: the new run owns the occurrence). `next` says what comes
 * next: the following occurrence, or a retry of this one at `retryAt`. A manual run leaves the schedule alone.
 * Answers false when the lease had been lost.
 */
export async function finishJobRun(
  pool: pg.Pool,
  run: {
    name: string;
    runId: string;
    runner: string;
    outcome: 'succeeded' | 'skipped' | 'failed';
    detail: Record<string, unknown>;
    error: string | null;
    next: { kind: 'occurrence'; at: Date } | { kind: 'retry'; at: Date } | { kind: 'manual' };
  },
): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    const held = await client.query(
      'SELECT 1 FROM jobs WHERE name = $1 AND run_id = $2 AND lease_owner = $3 FOR UPDATE',
      [run.name, run.runId, run.runner],
    );
    if (held.rowCount !== 1) return false;
    await client.query(`UPDATE job_runs SET outcome = $2, detail = $3, error = $4, finished_at = now() WHERE id = $1`, [
      run.runId,
      run.outcome,
      JSON.stringify(run.detail),
      run.error,
    ]);
    const next = run.next;
    const release = 'lease_owner = NULL, lease_until = NULL, run_id = NULL, updated_at = now()';
    if (next.kind === 'manual') {
      await client.query(`UPDATE jobs SET requested_at = NULL, requested_by = NULL, ${release} WHERE name = $1`, [
        run.name,
      ]);
    } else if (next.kind === 'retry') {
      await client.query(`UPDATE jobs SET next_run_at = $2, ${release} WHERE name = $1`, [run.name, next.at]);
    } else {
      await client.query(
        `UPDATE jobs SET occurrence_at = $2, next_run_at = $2, attempts = 0, ${release} WHERE name = $1`,
        [run.name, next.at],
      );
    }
    return true;
  });
}

/** Ask for a run as soon as a replica is free ("run now"); false when no such job is registered. */
export async function requestJobRun(db: Queryable, name: string, actor: string): Promise<Date | null> {
  const { rows } = await db.query<{ requested_at: Date }>(
    `UPDATE jobs SET requested_at = COALESCE(requested_at, now()), requested_by = COALESCE(requested_by, $2),
       updated_at = now() WHERE name = $1 RETURNING requested_at`,
    [name, actor],
  );
  return rows[0]?.requested_at ?? null;
}

export async function listJobs(db: Queryable): Promise<JobRow[]> {
  return (await db.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs ORDER BY name`)).rows;
}

/** The latest `limit` runs of each job named (newest first). */
export async function listJobRuns(db: Queryable, names: readonly string[], limit: number): Promise<JobRunRow[]> {
  const { rows } = await db.query<JobRunRow>(
    `SELECT ${RUN_COLUMNS} FROM (
       SELECT id, job, trigger, scheduled_for, attempt, runner, started_at, finished_at, outcome, detail, error,
              row_number() OVER (PARTITION BY job ORDER BY id DESC) AS n
         FROM job_runs WHERE job = ANY($1::text[])) r
      WHERE n <= $2 ORDER BY job, r.id DESC`,
    [names, limit],
  );
  return rows;
}

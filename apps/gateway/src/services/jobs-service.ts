import type pg from 'pg';
import { Clawd402Error } from '@clawd402/protocol';
import type { UserPrincipal } from '../domain/principal.ts';
import type { JobListing, JobRunner } from '../jobs/job-runner.ts';
import { requestJobRun } from '../repositories/jobs-repository.ts';
import { auditedChange } from './audited-change.ts';

/** Scheduled jobs for operators (routes/admin/jobs.ts): the jobs with their run history, and "run now". */
export class JobsService {
  constructor(private readonly deps: { pool: pg.Pool; runner: JobRunner; wake: () => void }) {}

  /** Every registered job, its schedule, lease and its latest `runs` runs. */
  list(runs: number): Promise<JobListing[]> {
    return this.deps.runner.list(runs);
  }

  /**
   * Ask for a run as soon as a replica with the job runner is free (this one is woken at once); audited. The run
   * shows in the history with trigger `manual`; the schedule is left as it was. Unknown name: `not_found`.
   */
  async requestRun(actor: UserPrincipal, name: string): Promise<{ job: string; requestedAt: Date }> {
    const requestedAt = await auditedChange(
      this.deps.pool,
      (client) => requestJobRun(client, name, `user:${actor.userId}`),
      () => ({ actor: `user:${actor.userId}`, action: 'job.run_requested', subject: `job:${name}`, data: {} }),
    );
    if (requestedAt === null) throw new Clawd402Error('not_found', 'No such job.');
    this.deps.wake();
    return { job: name, requestedAt };
  }
}

import { callJson, type Stack } from './stack.ts';

/** Once a year (1 January, midnight): a job on this schedule runs in a test only when the test runs it now. */
export const FAR_SCHEDULE = '0 0 1 1 *';

/**
 * Gateway environment for jobs that run only when a test runs them now: the in-process runner polls every 200 ms and
 * each schedule variable named (`RETENTION_SCHEDULE`, …) is FAR_SCHEDULE.
 */
export function runNowOnlyJobsEnv(...scheduleVariables: string[]): Record<string, string> {
  return { JOBS_POLL_INTERVAL_MS: '200', ...Object.fromEntries(scheduleVariables.map((v) => [v, FAR_SCHEDULE])) };
}

/** One run of GET /admin/jobs (as the route answers it). */
export interface JobRunView {
  id: string;
  trigger: 'schedule' | 'manual';
  scheduledFor: string;
  attempt: number;
  runner: string;
  outcome: string;
  detail: any;
  error: string | null;
}

/** The runs of `job`, newest first, through GET /admin/jobs. */
export async function jobRuns(baseUrl: string, token: string, job: string, runs = 50): Promise<JobRunView[]> {
  const res = await callJson(baseUrl, token, 'GET', `/admin/jobs?runs=${runs}`);
  if (res.status !== 200) throw new Error(`GET /admin/jobs answered ${res.status}`);
  return (res.body.items as { name: string; runs: JobRunView[] }[]).find((j) => j.name === job)?.runs ?? [];
}

/** POST /admin/jobs/:name/run, then wait (bounded) for that manual run to finish; answers it. */
export async function runJobNow(
  stack: Stack,
  token: string,
  job: string,
  baseUrl = stack.baseUrl,
): Promise<JobRunView> {
  const before = new Set((await jobRuns(baseUrl, token, job)).map((r) => r.id));
  const res = await callJson(baseUrl, token, 'POST', `/admin/jobs/${job}/run`);
  if (res.status !== 202) throw new Error(`run ${job} answered ${res.status} ${JSON.stringify(res.body)}`);
  for (let i = 0; i < 600; i += 1) {
    const done = (await jobRuns(baseUrl, token, job)).find(
      (r) => !before.has(r.id) && r.trigger === 'manual' && r.outcome !== 'running',
    );
    if (done) return done;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the manual run of ${job} did not finish`);
}

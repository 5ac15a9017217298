import { Cron } from 'croner';

/**
 * Cron schedules of the scheduled jobs, read in UTC: five fields (minute hour day-of-month month day-of-week) or six
 * with seconds first. croner parses them: no dependencies, maintained, and `nextRun(after)` without starting a timer
 * (the runner polls Postgres; it needs the arithmetic, not croner's scheduler).
 */
function cron(expression: string): Cron {
  return new Cron(expression, { timezone: 'UTC', paused: true });
}

/** Throws with croner's sentence when `expression` is not a cron schedule (config validation). */
export function assertSchedule(expression: string): void {
  if (cron(expression).nextRun(new Date()) === null) throw new Error('the schedule never fires');
}

/** The first occurrence strictly after `after`. */
export function nextOccurrence(expression: string, after: Date): Date {
  const next = cron(expression).nextRun(after);
  if (!next) throw new Error(`schedule "${expression}" has no occurrence after ${after.toISOString()}`);
  return next;
}

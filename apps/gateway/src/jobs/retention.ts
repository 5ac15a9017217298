import type pg from 'pg';
import { databaseNow, purgeBatch, type RetentionTarget } from '../repositories/retention-repository.ts';
import type { JobDefinition } from './job-runner.ts';

/** How long each table keeps its rows past their end (RETENTION_* settings, docs/jobs.md). */
export interface RetentionSettings {
  /** Sessions and their refresh tokens, counted from the session's (or token's) absolute expiry. */
  sessionsDays: number;
  /** Failed logins and key exchanges, from when they happened. */
  authFailuresDays: number;
  /** IP blocks, from when the block ended. */
  ipBlocksDays: number;
  /** Delivered notifications, from delivery (pending rows and dead letters stay). */
  outboxDeliveredDays: number;
  /** Spend buckets (minute and hour rows), from their minute or the end of their hour; at least the longest spend window (24 hours). */
  spendBucketsHours: number;
  alertsDays: number;
  /** Sealed personal values beside the audit chain (IP addresses, user agents, names), from when they were written. */
  personalDataDays: number;
  /** Rows per DELETE statement. */
  batchSize: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Tables in purge order (refresh tokens before the sessions they reference) with their retention. */
function cutoffs(settings: RetentionSettings, now: Date): [RetentionTarget, Date][] {
  const ago = (ms: number): Date => new Date(now.getTime() - ms);
  return [
    ['refresh_tokens', ago(settings.sessionsDays * DAY_MS)],
    ['sessions', ago(settings.sessionsDays * DAY_MS)],
    ['auth_failures', ago(settings.authFailuresDays * DAY_MS)],
    ['ip_blocks', ago(settings.ipBlocksDays * DAY_MS)],
    ['notification_outbox', ago(settings.outboxDeliveredDays * DAY_MS)],
    ['spend_minutes', ago(settings.spendBucketsHours * HOUR_MS)],
    ['spend_hours', ago(settings.spendBucketsHours * HOUR_MS)],
    ['alerts', ago(settings.alertsDays * DAY_MS)],
    ['personal_data', ago(settings.personalDataDays * DAY_MS)],
  ];
}

/**
 * Purge every table past its retention, in batches (retention-repository.ts), and report what went per table. The
 * audit chain is never purged: it is append-only and hash-linked, and deleting from it would break verification.
 * Stops between batches when the lease is lost or the process stops; the next run carries on.
 */
export async function purgeExpired(
  pool: pg.Pool,
  settings: RetentionSettings,
  signal?: AbortSignal,
): Promise<Record<RetentionTarget, number>> {
  const now = await databaseNow(pool);
  const targets = cutoffs(settings, now);
  const deleted = Object.fromEntries(targets.map(([target]) => [target, 0])) as Record<RetentionTarget, number>;
  for (const [target, cutoff] of targets) {
    for (;;) {
      if (signal?.aborted) return deleted;
      const n = await purgeBatch(pool, target, cutoff, settings.batchSize);
      deleted[target] += n;
      if (n < settings.batchSize) break;
    }
  }
  return deleted;
}

export function retentionJob(deps: { pool: pg.Pool; settings: RetentionSettings; schedule: string }): JobDefinition {
  return {
    name: 'retention',
    schedule: deps.schedule,
    async run({ signal }) {
      return { outcome: 'succeeded', detail: { deleted: await purgeExpired(deps.pool, deps.settings, signal) } };
    },
  };
}

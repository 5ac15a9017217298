import type pg from 'pg';
import { DAY_CUT, HOUR_CUT, spendAfterSql } from './spend-repository.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** The figures `/metrics` computes on scrape (metrics.ts), read in one round of small queries. */
export interface MetricsSnapshot {
  /** Global and agent scopes (key scopes are left out: one series per API key would grow without bound). */
  scopes: {
    scope: string;
    breakerLevel: string;
    limitDayMicros: bigint | null;
    limitHourMicros: bigint | null;
    spentDayMicros: bigint;
    spentHourMicros: bigint;
  }[];
  approvalsPending: number;
  /** Outbox rows still to deliver, and dead letters. */
  outbox: { pending: number; dead: number };
  /** The last completed (succeeded or skipped) run of each job, epoch seconds. */
  jobLastSuccess: { job: string; at: number }[];
}

/**
 * Read the scrape-time figures. Spend is read as decisions read it (spend-repository.ts: hour rows and the first
 * hour's minutes, over the primary keys), for the global and agent scopes; the counts use the partial indexes on
 * pending approvals and due outbox rows.
 */
export async function readMetricsSnapshot(db: Queryable): Promise<MetricsSnapshot> {
  const scopes = await db.query<{
    scope: string;
    breaker_level: string;
    limit_day_micros: string | null;
    limit_hour_micros: string | null;
    day: string;
    hour: string | null;
  }>(
    `SELECT s.scope, s.breaker_level, s.limit_day_micros, s.limit_hour_micros, d.usd AS day, h.usd AS hour
       FROM spend_scopes s
      CROSS JOIN LATERAL ${spendAfterSql(DAY_CUT, 's.scope')} d
      CROSS JOIN LATERAL ${spendAfterSql(HOUR_CUT, 's.scope')} h
      WHERE s.scope NOT LIKE 'key:%'`,
  );
  const approvals = await db.query<{ n: string }>(`SELECT count(*) AS n FROM approvals WHERE status = 'pending'`);
  const outbox = await db.query<{ status: string; n: string }>(
    `SELECT 'pending' AS status, count(*) AS n FROM notification_outbox WHERE status = 'pending'
     UNION ALL SELECT 'dead', count(*) FROM notification_outbox WHERE status = 'dead'`,
  );
  const jobs = await db.query<{ job: string; at: string }>(
    `SELECT job, extract(epoch FROM max(finished_at)) AS at FROM job_runs
      WHERE outcome IN ('succeeded', 'skipped') GROUP BY job`,
  );
  const count = (status: string): number => Number(outbox.rows.find((r) => r.status === status)?.n ?? 0);
  return {
    scopes: scopes.rows.map((r) => ({
      scope: r.scope,
      breakerLevel: r.breaker_level,
      limitDayMicros: r.limit_day_micros === null ? null : BigInt(r.limit_day_micros),
      limitHourMicros: r.limit_hour_micros === null ? null : BigInt(r.limit_hour_micros),
      spentDayMicros: BigInt(r.day ?? 0),
      spentHourMicros: BigInt(r.hour ?? 0),
    })),
    approvalsPending: Number(approvals.rows[0]!.n),
    outbox: { pending: count('pending'), dead: count('dead') },
    jobLastSuccess: jobs.rows.map((r) => ({ job: r.job, at: Number(r.at) })),
  };
}

import type pg from 'pg';

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
 * Read the scrape-time figures. Spend sums only the last 24 hours of per-minute buckets of the global and agent
 * scopes (the same windows as spend-repository.ts) over the primary key; the counts use the partial indexes on
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
    `SELECT s.scope, s.breaker_level, s.limit_day_micros, s.limit_hour_micros,
            COALESCE(b.day, 0) AS day, COALESCE(b.hour, 0) AS hour
       FROM spend_scopes s
       LEFT JOIN (
         SELECT scope, sum(usd_micros) AS day,
                sum(usd_micros) FILTER (WHERE minute >= now() - interval '1 hour 1 minute') AS hour
           FROM spend_minutes
          WHERE minute >= now() - interval '24 hours 1 minute' AND scope NOT LIKE 'key:%'
          GROUP BY scope) b ON b.scope = s.scope
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

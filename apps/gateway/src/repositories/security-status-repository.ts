import type pg from 'pg';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** The state `GET /admin/security-status` scores (services/security-status-service.ts), read in one round trip. */
export interface SecurityFacts {
  now: Date;
  /** When each named job last succeeded (absent: never). */
  lastSucceeded: Record<string, Date>;
  /** Enabled owners, and how many of them have no second factor. */
  owners: number;
  ownersWithoutTotp: number;
}

export async function readSecurityFacts(db: Queryable, jobs: readonly string[]): Promise<SecurityFacts> {
  const { rows } = await db.query<{
    now: Date;
    last: { job: string; at: string }[] | null;
    owners: string;
    owners_without_totp: string;
  }>(
    `SELECT now() AS now,
            (SELECT json_agg(json_build_object('job', job, 'at', at)) FROM (
               SELECT job, max(finished_at) AS at FROM job_runs
                WHERE outcome = 'succeeded' AND job = ANY($1::text[]) GROUP BY job) j) AS last,
            (SELECT count(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL) AS owners,
            (SELECT count(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL AND totp_enabled_at IS NULL)
              AS owners_without_totp`,
    [jobs],
  );
  const row = rows[0]!;
  return {
    now: row.now,
    lastSucceeded: Object.fromEntries((row.last ?? []).map((l) => [l.job, new Date(l.at)])),
    owners: Number(row.owners),
    ownersWithoutTotp: Number(row.owners_without_totp),
  };
}

import type pg from 'pg';

type Queryable = Pick<pg.PoolClient, 'query'>;

export type AlertSeverity = 'info' | 'warning' | 'critical';

export interface AlertInput {
  /** What happened, snake_case, e.g. `rate_limit_block`. */
  kind: string;
  severity: AlertSeverity;
  /** JSON-safe detail for operators. Never secrets: no API keys, tokens or passwords. */
  detail: Record<string, unknown>;
}

/** Record an alert for operators (the `alerts` table of migrations/0002_identity.sql). Returns its id. */
export async function insertAlert(db: Queryable, alert: AlertInput): Promise<string> {
  const { rows } = await db.query<{ id: string }>('INSERT INTO alerts (kind, severity, detail) VALUES ($1, $2, $3) RETURNING id', [
    alert.kind,
    alert.severity,
    JSON.stringify(alert.detail),
  ]);
  return rows[0]!.id;
}

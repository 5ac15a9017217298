import type pg from 'pg';
import { ALERT_SEVERITIES, type AlertSeverity } from '../domain/alert.ts';
import type { SecurityReport } from '../domain/security-report.ts';
import { listAuditRecords } from './audit-repository.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** A week of security events (`from` inclusive, `to` exclusive), as counted for the weekly security report. */
export interface SecurityWeekFacts {
  /** Failed sign-ins per source address (raw: the caller masks them before anything leaves the process). */
  authFailures: { ip: string; kind: string; count: number }[];
  /** Distinct names tried in failed operator logins (a count only: the names are personal data). */
  namesTried: number;
  /** IP blocks that started in the week, by reason class (`failed_logins`, `incident`, other reasons as stored). */
  ipBlocksStarted: Record<string, number>;
  /** IP blocks still in force at `to`. */
  ipBlocksInForce: number;
  /** API-key quarantines that started (audit `api_key.quarantined`) and keys revoked by the gateway itself. */
  quarantines: number;
  quarantinedKeys: number;
  keysRevokedBySystem: number;
  /** Incidents by severity: opened and resolved within the week, and unresolved at `to`. */
  incidents: Record<'opened' | 'resolved' | 'open', Record<AlertSeverity, number>>;
  /** Circuit-breaker level changes and owner resets (audit `breaker.level_changed`, `breaker.reset`), oldest first. */
  breakerChanges: { at: Date; scope: string; from: string | null; to: string; by: string }[];
  breakerChangesTotal: number;
}

/** At most this many breaker changes are listed (all are counted). */
const BREAKER_LIST = 50;

function bySeverity(rows: { severity: string; n: string }[]): Record<AlertSeverity, number> {
  const counts = Object.fromEntries(ALERT_SEVERITIES.map((s) => [s, 0])) as Record<AlertSeverity, number>;
  for (const r of rows) if (r.severity in counts) counts[r.severity as AlertSeverity] = Number(r.n);
  return counts;
}

/**
 * Everything the weekly security report counts for [`from`, `to`), read from `auth_failures`, `ip_blocks`,
 * `incidents` and the audit log (whose `(action, at)` index serves the quarantine and breaker look-ups). An IP
 * block re-imposed on the same address keeps one row, so a block counts once, in the week it last started.
 */
export async function readSecurityWeek(db: Queryable, from: Date, to: Date): Promise<SecurityWeekFacts> {
  const window = [from, to];
  const [failures, names, blocks, inForce, audit, incidents] = await Promise.all([
    db.query<{ ip: string; kind: string; n: string }>(
      `SELECT ip, kind, count(*) AS n FROM auth_failures WHERE at >= $1 AND at < $2 GROUP BY ip, kind`,
      window,
    ),
    db.query<{ n: string }>(
      `SELECT count(DISTINCT subject) AS n FROM auth_failures
        WHERE at >= $1 AND at < $2 AND kind = 'login' AND subject IS NOT NULL`,
      window,
    ),
    db.query<{ reason: string; n: string }>(
      `SELECT CASE WHEN reason LIKE 'incident:%' THEN 'incident' ELSE reason END AS reason, count(*) AS n
         FROM ip_blocks WHERE blocked_at >= $1 AND blocked_at < $2 GROUP BY 1`,
      window,
    ),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM ip_blocks WHERE blocked_at < $1 AND until > $1`, [to]),
    db.query<{ quarantines: string; keys: string; revoked: string }>(
      `SELECT count(*) FILTER (WHERE action = 'api_key.quarantined') AS quarantines,
              count(DISTINCT subject) FILTER (WHERE action = 'api_key.quarantined') AS keys,
              count(*) FILTER (WHERE action = 'api_key.revoked' AND actor LIKE 'system:%') AS revoked
         FROM audit_log WHERE action IN ('api_key.quarantined', 'api_key.revoked') AND at >= $1 AND at < $2`,
      window,
    ),
    db.query<{ what: 'opened' | 'resolved' | 'open'; severity: string; n: string }>(
      `SELECT 'opened' AS what, severity, count(*) AS n FROM incidents
        WHERE opened_at >= $1 AND opened_at < $2 GROUP BY severity
       UNION ALL
       SELECT 'resolved', severity, count(*) FROM incidents
        WHERE resolved_at >= $1 AND resolved_at < $2 GROUP BY severity
       UNION ALL
       SELECT 'open', severity, count(*) FROM incidents
        WHERE opened_at < $2 AND (resolved_at IS NULL OR resolved_at >= $2) GROUP BY severity`,
      window,
    ),
  ]);
  const breakers = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM audit_log WHERE action IN ('breaker.level_changed', 'breaker.reset') AND at >= $1 AND at < $2`,
    window,
  );
  const changed = await listAuditRecords(db, { action: 'breaker.level_changed', since: from, until: to, limit: 500 });
  const reset = await listAuditRecords(db, { action: 'breaker.reset', since: from, until: to, limit: 500 });
  const breakerChanges = [...changed, ...reset]
    .sort((a, b) => a.seq - b.seq)
    .slice(-BREAKER_LIST)
    .map((r) => {
      const data = (r.data ?? {}) as { from?: unknown; to?: unknown };
      return {
        at: r.at,
        scope: (r.subject ?? '').replace(/^scope:/, ''),
        from: typeof data.from === 'string' ? data.from : null,
        to: r.action === 'breaker.reset' ? 'reset' : typeof data.to === 'string' ? data.to : 'unknown',
        by: r.actor.startsWith('user:') ? 'an owner' : 'the gateway',
      };
    });
  const pick = (what: 'opened' | 'resolved' | 'open') => bySeverity(incidents.rows.filter((r) => r.what === what));
  return {
    authFailures: failures.rows.map((r) => ({ ip: r.ip, kind: r.kind, count: Number(r.n) })),
    namesTried: Number(names.rows[0]?.n ?? 0),
    ipBlocksStarted: Object.fromEntries(blocks.rows.map((r) => [r.reason, Number(r.n)])),
    ipBlocksInForce: Number(inForce.rows[0]?.n ?? 0),
    quarantines: Number(audit.rows[0]?.quarantines ?? 0),
    quarantinedKeys: Number(audit.rows[0]?.keys ?? 0),
    keysRevokedBySystem: Number(audit.rows[0]?.revoked ?? 0),
    incidents: { opened: pick('opened'), resolved: pick('resolved'), open: pick('open') },
    breakerChanges,
    breakerChangesTotal: Number(breakers.rows[0]?.n ?? 0),
  };
}

/**
 * Keep the report of `occurrence` (in the transaction that enqueues it). False when that occurrence already has one:
 * it was made and sent before (a retry of the same occurrence), and the stored one stays as it was sent.
 */
export async function insertSecurityReport(
  db: Queryable,
  row: { occurrence: Date; channels: readonly string[]; report: SecurityReport },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO security_reports (occurrence, channels, report) VALUES ($1, $2::text[], $3::jsonb)
     ON CONFLICT (occurrence) DO NOTHING`,
    [row.occurrence, row.channels, JSON.stringify(row.report)],
  );
  return (rowCount ?? 0) > 0;
}

export interface StoredSecurityReport {
  occurrence: Date;
  madeAt: Date;
  channels: string[];
  report: SecurityReport;
}

/** The report of the latest occurrence, or null before the first. */
export async function latestSecurityReport(db: Queryable): Promise<StoredSecurityReport | null> {
  const { rows } = await db.query<{ occurrence: Date; made_at: Date; channels: string[]; report: SecurityReport }>(
    'SELECT occurrence, made_at, channels, report FROM security_reports ORDER BY occurrence DESC LIMIT 1',
  );
  const row = rows[0];
  return row ? { occurrence: row.occurrence, madeAt: row.made_at, channels: row.channels, report: row.report } : null;
}

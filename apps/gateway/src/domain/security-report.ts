import type { AlertSeverity } from './alert.ts';

/**
 * The weekly security report (docs/security-status.md): what happened in the 7 days before an occurrence, and the
 * state at that time. JSON-safe (it is the `security-report` job run's detail, answered by
 * `GET /admin/security-report`). Holds no raw IP address and no user name: sources are networks (IPv4 /24, IPv6 /48)
 * and names tried are only counted.
 */
export interface SecurityReport {
  /** The week: `from` inclusive, `to` exclusive (the occurrence), ISO 8601. */
  from: string;
  to: string;
  generatedAt: string;
  /** Nothing happened: no failed sign-ins, blocks, quarantines, incidents opened or resolved, breaker changes. */
  quiet: boolean;
  failedSignIns: {
    total: number;
    /** `login` (operators), `api_key` (agent key exchanges), `refresh` (refresh tokens). */
    byKind: Record<string, number>;
    sourceNetworks: number;
    /** The busiest source networks, most failures first (at most 5). */
    topNetworks: { network: string; count: number }[];
    /** Distinct user names tried in failed operator logins (never the names). */
    namesTried: number;
  };
  ipBlocks: { started: number; byReason: Record<string, number>; inForceAtEnd: number };
  quarantines: { started: number; keys: number; keysRevokedByGateway: number };
  incidents: Record<'opened' | 'resolved' | 'openAtEnd', Record<AlertSeverity, number>>;
  breakers: {
    changes: number;
    /** The latest changes (at most 50), oldest first. */
    list: { at: string; scope: string; from: string | null; to: string; by: string }[];
  };
  /** Keys in force at the run, by rotation level (docs/jobs.md, key-age reminders). */
  keyAges: {
    keys: number;
    due: number;
    overdue: number;
    critical: number;
    thresholds: { dueDays: number; overdueDays: number; criticalDays: number };
    signerUnreachable: boolean;
  };
  /** `GET /admin/security-status` at the run; null when it could not be computed. */
  securityStatus: { score: number; total: number; level: string; failing: string[] } | null;
  /** The last `pnpm audit` of the build (scripts/supply-chain.sh), when the gateway was given its record. */
  dependencyAudit: {
    recorded: boolean;
    checkedAt: string | null;
    outcome: 'passed' | 'failed' | 'not_checked' | null;
    /** Why it is not recorded, or what the audit found. */
    note: string;
  };
}

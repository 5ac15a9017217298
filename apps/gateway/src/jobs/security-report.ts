import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import type { ListKeysResult } from '@clawd402/protocol';
import { withTransaction } from '../db/pool.ts';
import type { SecurityReport } from '../domain/security-report.ts';
import { securityReportNotification } from '../notifications/security-report-content.ts';
import { enqueueNotification } from '../repositories/notifications-repository.ts';
import {
  insertSecurityReport,
  readSecurityWeek,
  type SecurityWeekFacts,
} from '../repositories/security-report-repository.ts';
import { maskIp } from '../security/ip-mask.ts';
import type { SecurityStatus } from '../services/security-status-service.ts';
import type { JobDefinition } from './job-runner.ts';
import { collectKeyAges, type KeyAgeReport, type KeyAgeSettings } from './key-age.ts';

export type { SecurityReport } from '../domain/security-report.ts';

const WEEK_MS = 7 * 86_400_000;
const TOP_NETWORKS = 5;

export interface SecurityReportSettings {
  /** Channel names the report goes to (SECURITY_REPORT_CHANNELS). */
  channels: readonly string[];
  /** DEPENDENCY_AUDIT_FILE: the record scripts/supply-chain.sh writes; null: not recorded. */
  dependencyAuditFile: string | null;
  keyAge: KeyAgeSettings;
}

/**
 * What the last `pnpm audit` came to, from the JSON file scripts/supply-chain.sh writes
 * (`{"checkedAt": ISO, "outcome": "passed" | "failed" | "not_checked", "detail": "…"}`). The gateway never runs the
 * audit itself (it has no registry access in production); without the file the report says so.
 */
export async function readDependencyAudit(file: string | null): Promise<SecurityReport['dependencyAudit']> {
  const none = (note: string): SecurityReport['dependencyAudit'] => ({
    recorded: false,
    checkedAt: null,
    outcome: null,
    note,
  });
  if (!file) return none('not recorded: DEPENDENCY_AUDIT_FILE is not set');
  let parsed: { checkedAt?: unknown; outcome?: unknown; detail?: unknown };
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as typeof parsed;
  } catch {
    return none('not recorded: DEPENDENCY_AUDIT_FILE could not be read as JSON');
  }
  const at = typeof parsed.checkedAt === 'string' ? new Date(parsed.checkedAt) : null;
  const outcome = parsed.outcome;
  if (!at || Number.isNaN(at.getTime()) || (outcome !== 'passed' && outcome !== 'failed' && outcome !== 'not_checked'))
    return none('not recorded: DEPENDENCY_AUDIT_FILE has no checkedAt date and outcome');
  const detail = typeof parsed.detail === 'string' ? parsed.detail.slice(0, 200) : '';
  return { recorded: true, checkedAt: at.toISOString(), outcome, note: detail };
}

/**
 * The report from what was read (pure): failed sign-ins by source network (IPv4 /24, IPv6 /48: no raw address
 * leaves here) and kind, blocks, quarantines, incidents by severity, breaker changes, key ages by level, the score.
 */
export function buildSecurityReport(input: {
  from: Date;
  to: Date;
  now: Date;
  week: SecurityWeekFacts;
  keyAges: KeyAgeReport;
  keyAgeSettings: KeyAgeSettings;
  status: SecurityStatus | null;
  dependencyAudit: SecurityReport['dependencyAudit'];
}): SecurityReport {
  const { week } = input;
  const byKind: Record<string, number> = { login: 0, api_key: 0, refresh: 0 };
  const byNetwork = new Map<string, number>();
  for (const f of week.authFailures) {
    byKind[f.kind] = (byKind[f.kind] ?? 0) + f.count;
    const network = maskIp(f.ip);
    byNetwork.set(network, (byNetwork.get(network) ?? 0) + f.count);
  }
  const total = week.authFailures.reduce((sum, f) => sum + f.count, 0);
  const topNetworks = [...byNetwork]
    .map(([network, count]) => ({ network, count }))
    .sort((a, b) => b.count - a.count || a.network.localeCompare(b.network))
    .slice(0, TOP_NETWORKS);
  const levels = { due: 0, overdue: 0, critical: 0 };
  for (const key of input.keyAges.keys) if (key.level !== 'ok') levels[key.level] += 1;
  const blocksStarted = Object.values(week.ipBlocksStarted).reduce((a, b) => a + b, 0);
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  const quiet =
    total === 0 &&
    blocksStarted === 0 &&
    week.quarantines === 0 &&
    week.keysRevokedBySystem === 0 &&
    sum(week.incidents.opened) === 0 &&
    sum(week.incidents.resolved) === 0 &&
    week.breakerChangesTotal === 0;
  return {
    from: input.from.toISOString(),
    to: input.to.toISOString(),
    generatedAt: input.now.toISOString(),
    quiet,
    failedSignIns: { total, byKind, sourceNetworks: byNetwork.size, topNetworks, namesTried: week.namesTried },
    ipBlocks: { started: blocksStarted, byReason: week.ipBlocksStarted, inForceAtEnd: week.ipBlocksInForce },
    quarantines: {
      started: week.quarantines,
      keys: week.quarantinedKeys,
      keysRevokedByGateway: week.keysRevokedBySystem,
    },
    incidents: {
      opened: week.incidents.opened,
      resolved: week.incidents.resolved,
      openAtEnd: week.incidents.open,
    },
    breakers: {
      changes: week.breakerChangesTotal,
      list: week.breakerChanges.map((c) => ({ ...c, at: c.at.toISOString() })),
    },
    keyAges: {
      keys: input.keyAges.keys.length,
      ...levels,
      thresholds: input.keyAgeSettings,
      signerUnreachable: input.keyAges.signerUnreachable,
    },
    securityStatus: input.status && {
      score: input.status.score,
      total: input.status.total,
      level: input.status.level,
      failing: input.status.checks.filter((c) => !c.ok).map((c) => c.id),
    },
    dependencyAudit: input.dependencyAudit,
  };
}

/**
 * `security-report` (weekly): the security report for the 7 days before the occurrence, kept in `security_reports`
 * (for `GET /admin/security-report`) and sent to the report channels through the notification outbox (the path
 * alerts take to people; docs/incidents.md), in one transaction. An occurrence that already has its report (a retry
 * after a replica died before recording its run) sends nothing again; the outbox's dedupe key is the occurrence too.
 */
export function securityReportJob(deps: {
  pool: pg.Pool;
  signer: { listKeys(): Promise<ListKeysResult> };
  securityStatus: { status(): Promise<SecurityStatus> };
  settings: SecurityReportSettings;
  schedule: string;
}): JobDefinition {
  return {
    name: 'security-report',
    schedule: deps.schedule,
    async run({ scheduledFor, log }) {
      const to = scheduledFor;
      const from = new Date(to.getTime() - WEEK_MS);
      const week = await readSecurityWeek(deps.pool, from, to);
      const keyAges = await collectKeyAges({ pool: deps.pool, signer: deps.signer, settings: deps.settings.keyAge });
      const status = await deps.securityStatus.status().catch((error: unknown) => {
        log.warn({ err: error }, 'security report: the security status could not be computed');
        return null;
      });
      const report = buildSecurityReport({
        from,
        to,
        now: new Date(),
        week,
        keyAges,
        keyAgeSettings: deps.settings.keyAge,
        status,
        dependencyAudit: await readDependencyAudit(deps.settings.dependencyAuditFile),
      });
      const { subject, payload } = securityReportNotification(report);
      const channels = deps.settings.channels;
      const made = await withTransaction(deps.pool, async (client) => {
        if (!(await insertSecurityReport(client, { occurrence: to, channels, report }))) return false;
        for (const channel of channels) {
          await enqueueNotification(client, {
            channel,
            event: 'security.report',
            subject,
            payload,
            dedupeKey: `security-report:${to.toISOString()}`,
          });
        }
        return true;
      });
      // The run history (GET /admin/jobs, jobs:read) gets the headline figures; the report itself is security:read.
      return {
        outcome: 'succeeded',
        detail: {
          week: { from: report.from, to: report.to },
          sent: made ? channels : [],
          alreadyMade: !made,
          quiet: report.quiet,
          failedSignIns: report.failedSignIns.total,
          ipBlocks: report.ipBlocks.started,
          quarantines: report.quarantines.started,
        },
      };
    },
  };
}

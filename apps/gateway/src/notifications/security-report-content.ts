import type { AlertSeverity } from '../domain/alert.ts';
import type { SecurityReport } from '../domain/security-report.ts';
import type { MessageSection } from './message-content.ts';

const day = (iso: string): string => iso.slice(0, 10);
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** `critical 1, high 2` (severities with a count only), or `none`. */
function severities(counts: Record<AlertSeverity, number>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

const AUDIT_OUTCOME = { passed: 'passed', failed: 'FAILED', not_checked: 'could NOT check (not a pass)' } as const;

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** `failed_logins 1, incident 2`, or `none`. */
function reasons(counts: Record<string, number>): string {
  const parts = Object.entries(counts).map(([r, n]) => `${r} ${n}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** The report as titled sections of plain text lines (every format renders these; pure). */
export function securityReportSections(report: SecurityReport): MessageSection[] {
  const s = report.failedSignIns;
  const sections: MessageSection[] = [];
  if (report.quiet) {
    sections.push({
      title: 'A quiet week',
      lines: ['No failed sign-ins, IP blocks, API-key quarantines, incidents or circuit-breaker changes this week.'],
    });
  }
  sections.push({
    title: 'Failed sign-ins',
    lines:
      s.total === 0
        ? ['None.']
        : [
            `${s.total} in the week: ${s.byKind.login ?? 0} operator logins, ${s.byKind.api_key ?? 0} API-key exchanges, ${s.byKind.refresh ?? 0} token refreshes.`,
            `From ${plural(s.sourceNetworks, 'source network')} (addresses cut to IPv4 /24, IPv6 /48); ${plural(s.namesTried, 'distinct user name')} tried (names not shown).`,
            ...s.topNetworks.map((n) => `${n.network}: ${n.count}`),
          ],
  });
  sections.push({
    title: 'IP blocks',
    lines: [
      `${report.ipBlocks.started} started (${reasons(report.ipBlocks.byReason)}); ${report.ipBlocks.inForceAtEnd} in force at the end of the week.`,
    ],
  });
  sections.push({
    title: 'API-key quarantines',
    lines: [
      `${plural(report.quarantines.started, 'quarantine')} (${plural(report.quarantines.keys, 'key')}); ${plural(report.quarantines.keysRevokedByGateway, 'key')} revoked by the gateway.`,
    ],
  });
  const inc = report.incidents;
  sections.push({
    title: 'Incidents',
    lines: [
      `Opened ${total(inc.opened)} (${severities(inc.opened)}); resolved ${total(inc.resolved)} (${severities(inc.resolved)}); open at the end of the week ${total(inc.openAtEnd)} (${severities(inc.openAtEnd)}).`,
    ],
  });
  sections.push({
    title: 'Circuit breakers',
    lines:
      report.breakers.changes === 0
        ? ['No level changes.']
        : [
            `${plural(report.breakers.changes, 'level change')}${report.breakers.changes > report.breakers.list.length ? ` (the latest ${report.breakers.list.length} listed)` : ''}:`,
            ...report.breakers.list.map(
              (c) => `${c.at.slice(0, 16).replace('T', ' ')} ${c.scope}: ${c.from ?? '?'} → ${c.to} (${c.by})`,
            ),
          ],
  });
  const k = report.keyAges;
  sections.push({
    title: 'Key ages',
    lines: [
      `${plural(k.keys, 'key')} in force: ${k.due} due (≥ ${k.thresholds.dueDays} d), ${k.overdue} overdue (≥ ${k.thresholds.overdueDays} d), ${k.critical} critical (≥ ${k.thresholds.criticalDays} d).`,
      ...(k.signerUnreachable ? ['The signer did not answer: its keys are not dated.'] : []),
    ],
  });
  const st = report.securityStatus;
  sections.push({
    title: 'Security status',
    lines: st
      ? [
          `Score ${st.score}/${st.total} (${st.level})${st.failing.length > 0 ? `; failing: ${st.failing.join(', ')}` : ''}.`,
        ]
      : ['Could not be computed at the run.'],
  });
  const dep = report.dependencyAudit;
  sections.push({
    title: 'Dependency audit',
    lines: [
      dep.recorded
        ? `pnpm audit ${AUDIT_OUTCOME[dep.outcome!]} on ${day(dep.checkedAt!)}${dep.note ? ` (${dep.note})` : ''}.`
        : `${dep.note[0]!.toUpperCase()}${dep.note.slice(1)}.`,
    ],
  });
  return sections;
}

/** The headline: the week and its counts, or that it was quiet. */
export function securityReportSubject(report: SecurityReport): string {
  const week = `Weekly security report ${day(report.from)} – ${day(report.to)}`;
  if (report.quiet) return `${week}: a quiet week`;
  return `${week}: ${plural(report.failedSignIns.total, 'failed sign-in')}, ${plural(report.ipBlocks.started, 'IP block')}, ${plural(report.quarantines.started, 'quarantine')}, ${plural(total(report.incidents.opened), 'incident')} opened`;
}

/**
 * The outbox notification of a report: the subject, the sections every format shows in full (`payload.sections`,
 * message-content.ts), the structured report for webhook receivers, and `severity: info` so a PagerDuty channel on
 * the list records it without paging anyone.
 */
export function securityReportNotification(report: SecurityReport): {
  subject: string;
  payload: Record<string, unknown>;
} {
  return {
    subject: securityReportSubject(report),
    payload: { severity: 'info', sections: securityReportSections(report), report },
  };
}

import { setTimeout as sleep } from 'node:timers/promises';
import { CliError } from '../cli-error.ts';
import type { Command } from '../command.ts';
import type { GatewayClient } from '../gateway/gateway-client.ts';
import { gatewayCommand, integerOption } from '../gateway/gateway-command.ts';

const JOB = 'audit-verify';
const POLL_MS = 500;

interface JobRun {
  id: string;
  trigger: string;
  startedAt: string | null;
  finishedAt: string | null;
  outcome: string | null;
  detail: Record<string, unknown> | null;
  error: string | null;
}
interface Job {
  name: string;
  schedule: string;
  runs: JobRun[];
}
/** What the audit-verify job records (jobs/audit-verification.ts). */
interface VerificationDetail {
  rows?: number;
  checkpointsChecked?: number;
  notes?: string[];
}
interface Verification {
  outcome: 'succeeded';
  startedAt: string;
  finishedAt: string;
  detail: VerificationDetail | null;
}

const auditJob = async (client: GatewayClient): Promise<Job | undefined> =>
  (await client.call<{ items: Job[] }>('GET', '/admin/jobs?runs=5')).items.find((j) => j.name === JOB);

const verify = gatewayCommand<Verification>({
  path: ['audit', 'verify'],
  summary: 'verify the whole audit chain and its checkpoints now, on the gateway (the audit-verify job)',
  details: [
    'Asks a gateway replica with JOB_RUNNER=on to run the audit-verify job now (what pnpm audit:verify checks,',
    "the signer's latest checkpoint included) and waits for its outcome. A broken chain is",
    'audit_verification_failed (exit 1) with the findings; no run within --wait seconds is gateway_unavailable.',
  ].join('\n'),
  options: { wait: { type: 'string', value: 'SECONDS', description: 'how long to wait for the run (default 120)' } },
  async run(client, o) {
    const waitMs = (integerOption(o, 'wait') ?? 120) * 1000;
    const requested = await client.call<{ requestedAt: string }>('POST', `/admin/jobs/${JOB}/run`);
    const since = Date.parse(requested.requestedAt);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const run = (await auditJob(client))?.runs.find(
        (r) => r.trigger === 'manual' && r.startedAt && Date.parse(r.startedAt) >= since - 1000 && r.finishedAt,
      );
      if (run?.outcome === 'succeeded')
        return {
          outcome: 'succeeded',
          startedAt: run.startedAt!,
          finishedAt: run.finishedAt!,
          detail: run.detail as VerificationDetail | null,
        };
      if (run)
        throw new CliError('audit_verification_failed', run.error ?? undefined, {
          detail: { outcome: run.outcome, ...(run.detail ?? {}) },
        });
      if (Date.now() >= deadline)
        throw new CliError(
          'gateway_unavailable',
          `no gateway replica ran ${JOB} within ${waitMs / 1000} s (is JOB_RUNNER=on anywhere?)`,
        );
      await sleep(POLL_MS);
    }
  },
  render: (r) => [
    `audit chain verified: ${r.detail?.rows ?? '?'} record(s), ${r.detail?.checkpointsChecked ?? 0} checkpoint(s) checked`,
    ...(r.detail?.notes ?? []).map((n) => `  note: ${n}`),
  ],
});

interface SecurityStatus {
  /** GET /admin/security-status: the hardening baseline, item by item (docs/security-status.md). */
  baseline: {
    score: number;
    total: number;
    level: string;
    checks: { id: string; title: string; ok: boolean; evidence: string; fix: string }[];
  };
  killSwitch: { engaged: boolean; signerLatched: boolean | null; pauses: number };
  openAlerts: { critical: number; total: number };
  auditVerification: { lastRunAt: string | null; outcome: string | null };
  keys: { total: number; byStatus: Record<string, number> };
}

/**
 * The gateway's hardening baseline (GET /admin/security-status) with what an operator checks beside it: the kill
 * switch and pauses, open alerts, the latest audit verification, key ages. Each read needs its own permission.
 */
const securityStatus = gatewayCommand<SecurityStatus>({
  path: ['security-status'],
  summary: 'the kill switch and pauses, open alerts, the last audit verification and key ages, in one view',
  details:
    'GET /admin/security-status (the hardening baseline), with /admin/killswitch, /admin/alerts, /admin/jobs and /admin/keys/age-report.',
  async run(client) {
    const [baseline, halts, alerts, job, keys] = await Promise.all([
      client.call<SecurityStatus['baseline']>('GET', '/admin/security-status'),
      client.call<{ killSwitch: { engaged: boolean }; signer: { latched: boolean } | null; pauses: unknown[] }>(
        'GET',
        '/admin/killswitch',
      ),
      client.call<{ items: { severity: string }[] }>('GET', '/admin/alerts?status=open&limit=100'),
      auditJob(client),
      client.call<{ items: { status: string }[] }>('GET', '/admin/keys/age-report'),
    ]);
    const last = job?.runs.find((r) => r.finishedAt);
    const byStatus: Record<string, number> = {};
    for (const k of keys.items) byStatus[k.status] = (byStatus[k.status] ?? 0) + 1;
    return {
      baseline: {
        score: baseline.score,
        total: baseline.total,
        level: baseline.level,
        checks: baseline.checks.map(({ id, title, ok, evidence, fix }) => ({ id, title, ok, evidence, fix })),
      },
      killSwitch: {
        engaged: halts.killSwitch.engaged,
        signerLatched: halts.signer?.latched ?? null,
        pauses: halts.pauses.length,
      },
      openAlerts: {
        critical: alerts.items.filter((a) => a.severity === 'critical').length,
        total: alerts.items.length,
      },
      auditVerification: { lastRunAt: last?.finishedAt ?? null, outcome: last?.outcome ?? null },
      keys: { total: keys.items.length, byStatus },
    };
  },
  render: (s) => [
    `baseline      ${s.baseline.score}/${s.baseline.total} (${s.baseline.level})`,
    ...s.baseline.checks.filter((c) => !c.ok).map((c) => `  ✗ ${c.id}: ${c.evidence} — ${c.fix}`),
    `kill switch   ${s.killSwitch.engaged ? 'ENGAGED' : 'released'}; signer ${s.killSwitch.signerLatched === null ? 'not answering' : s.killSwitch.signerLatched ? 'latched' : 'not latched'}; ${s.killSwitch.pauses} pause(s)`,
    `open alerts   ${s.openAlerts.total} (${s.openAlerts.critical} critical)`,
    `audit chain   last verified ${s.auditVerification.lastRunAt ?? 'never'}${s.auditVerification.outcome ? ` (${s.auditVerification.outcome})` : ''}`,
    `api keys      ${s.keys.total}: ${
      Object.entries(s.keys.byStatus)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ') || 'none'
    }`,
  ],
});

/** GET /admin/security-report: the latest weekly security report (docs/security-status.md). */
interface SecurityReport {
  occurrence: string;
  madeAt: string;
  channels: string[];
  subject: string;
  sections: { title: string; lines: string[] }[];
  report: Record<string, unknown>;
}

/** The latest weekly security report, as the security-report job sent it to the report channels. */
const securityReport = gatewayCommand<SecurityReport>({
  path: ['security-report'],
  summary: 'the latest weekly security report (failed sign-ins, blocks, quarantines, incidents, key ages, breakers)',
  details:
    'GET /admin/security-report: the report the security-report job made last and sent to SECURITY_REPORT_CHANNELS; --json prints the structured report. Before the first run: not_found.',
  run: (client) => client.call<SecurityReport>('GET', '/admin/security-report'),
  render: (r) => [
    r.subject,
    `made ${r.madeAt}, sent to ${r.channels.join(', ') || 'no channel'}`,
    ...r.sections.flatMap((s) => ['', s.title, ...s.lines.map((l) => `  ${l}`)]),
  ],
});

export const auditCommands: Command[] = [verify, securityStatus, securityReport] as Command[];

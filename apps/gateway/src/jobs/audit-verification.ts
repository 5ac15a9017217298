import type pg from 'pg';
import { logEvent } from '@clawd402/protocol';
import type { AlertInput } from '../repositories/alerts-repository.ts';
import { verifyAudit, type CheckpointNotary } from '../services/audit-checkpoints.ts';
import type { JobDefinition } from './job-runner.ts';

/**
 * Scheduled audit verification (docs/audit.md): what `pnpm audit:verify` checks — the chain row by row and every
 * checkpoint, the signer's latest included — on a schedule. A broken chain raises a critical `audit_verification_failed`
 * alert and records the run failed (not retried: the chain will not mend itself; the next occurrence checks again).
 */
export function auditVerificationJob(deps: {
  pool: pg.Pool;
  signer: Pick<CheckpointNotary, 'getCheckpoint'>;
  alerts: { raise(alert: AlertInput): Promise<unknown> };
  schedule: string;
}): JobDefinition {
  return {
    name: 'audit-verify',
    schedule: deps.schedule,
    async run({ log }) {
      const result = await verifyAudit({ pool: deps.pool, signer: deps.signer });
      const detail = {
        rows: result.rows,
        headHash: result.headHash,
        checkpointsChecked: result.checkpointsChecked,
        findings: result.findings.slice(0, 20).map((f) => ({ kind: f.kind, seq: f.seq })),
        notes: result.notes,
      };
      if (result.ok) return { outcome: 'succeeded', detail };
      const first = result.findings[0]!;
      logEvent(log, 'system.audit_verification_failed', {
        seq: first.seq,
        kind: first.kind,
        findings: result.findings.length,
      });
      await deps.alerts.raise({
        kind: 'audit_verification_failed',
        severity: 'critical',
        subject: 'audit:chain',
        summary: `The audit chain failed verification at seq ${first.seq} (${first.kind}); investigate before trusting it.`,
        detail: { findings: result.findings.length, first: { kind: first.kind, seq: first.seq }, rows: result.rows },
      });
      return {
        outcome: 'failed',
        detail,
        error: `audit chain broken at seq ${first.seq}: ${first.kind} (${result.findings.length} finding(s))`,
      };
    },
  };
}

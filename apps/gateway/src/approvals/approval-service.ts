import type pg from 'pg';
import { Clawd402Error } from '@clawd402/protocol';
import { withTransaction } from '../db/pool.ts';
import { intentDigest } from '../domain/intent-call.ts';
import {
  closeApproval,
  escalateApproval,
  findApproval,
  findApprovedButWaiting,
  lockExpiredApprovals,
  recordVote,
  type ApprovalRecord,
} from '../repositories/approvals-repository.ts';
import { appendAudit } from '../repositories/audit-repository.ts';
import { scopesOf } from '../domain/halts.ts';
import { readHalts } from '../repositories/halts-repository.ts';
import { findIntent, transitionIntent, type IntentRecord } from '../repositories/intents-repository.ts';
import { enqueueNotification } from '../repositories/notifications-repository.ts';
import { findUser } from '../repositories/users-repository.ts';
import type { UserPrincipal } from '../security/tokens.ts';

const SWEEP_BATCH = 100;

/**
 * An approval may not count while the kill switch is engaged (`killswitch_engaged`: pending approvals are frozen), nor
 * for an intent whose agent or API key is paused, disabled, revoked or expired (`approval_agent_inactive`), nor whose
 * chain is paused (`chain_paused`). Rejecting stays possible.
 */
async function assertApprovable(client: pg.PoolClient, intent: IntentRecord): Promise<void> {
  const scopes = scopesOf(intent, intent.chainId);
  const halts = await readHalts(client, scopes, intent);
  if (halts.killSwitch) throw new Clawd402Error('killswitch_engaged');
  if (halts.inactive || halts.paused.some((s) => !s.startsWith('chain:')))
    throw new Clawd402Error('approval_agent_inactive', undefined, { details: { paused: halts.paused } });
  if (halts.paused.length > 0)
    throw new Clawd402Error('chain_paused', undefined, { details: { scope: halts.paused[0] } });
}

/**
 * Human approvals: votes (a quorum of M, one vote per user, only for the digest the approval is bound to, only while
 * pending), rejection, and the clock — escalation after the timeout, then rejection. Everything that decides is a
 * transaction that locks the approval row, so two approvers (or two gateway processes) never double-count; the
 * intent resumes (reserve, sign, submit) only after the approval committed as approved.
 */
export class ApprovalService {
  /** `pipeline` resumes an approved intent on the intent path (handed in by app.ts; approvals never import it). */
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      pipeline: { resumeApproved(intentId: string, requestId?: string): Promise<IntentRecord | null> };
    },
  ) {}

  /**
   * One user's vote. `digest` is what the approver saw; it must be the approval's and the intent's current one.
   * `requestId` (the HTTP request's) goes to the signer's log when this vote completes the approval.
   */
  async vote(
    user: UserPrincipal,
    id: string,
    vote: 'approve' | 'reject',
    options: { digest?: string; reason?: string; requestId?: string },
  ): Promise<{ approval: ApprovalRecord; intent: IntentRecord | null }> {
    const { pool } = this.deps;
    const outcome = await withTransaction(pool, async (client) => {
      const approval = await findApproval(client, id, { lock: true });
      if (!approval) throw new Clawd402Error('not_found', 'No such approval.');
      if (approval.status !== 'pending') {
        throw new Clawd402Error(
          'approval_not_pending',
          `The approval is ${approval.status}; a decision counts only once.`,
          { details: { status: approval.status } },
        );
      }
      if (approval.expiresAt.getTime() <= Date.now()) {
        throw new Clawd402Error('approval_not_pending', 'The approval timed out.', { details: { status: 'expired' } });
      }
      await this.assertEligible(client, approval, user);
      const intent = await findIntent(client, approval.intentId);
      if (!intent) throw new Error(`approval ${id} has no intent`);
      if (vote === 'approve') await assertApprovable(client, intent);
      if (
        (options.digest !== undefined && options.digest !== approval.digest) ||
        intentDigest(intent) !== approval.digest
      ) {
        throw new Clawd402Error('approval_digest_mismatch', undefined, {
          details: { approvalDigest: approval.digest },
        });
      }
      if (!(await recordVote(client, id, user.userId, vote, approval.digest)))
        throw new Clawd402Error('approval_already_voted');
      await appendAudit(client, {
        actor: `user:${user.userId}`,
        action: `approval.vote`,
        subject: `approval:${id}`,
        data: { vote, digest: approval.digest, intentId: intent.id },
      });
      if (vote === 'reject') {
        const reason = options.reason ?? 'rejected';
        await closeApproval(client, id, 'rejected', `user:${user.userId}`, reason);
        await transitionIntent(client, intent.id, ['pending_approval'], 'rejected', {
          fields: { error_code: 'approval_rejected', error_message: `Rejected by a human: ${reason}` },
          audit: {
            actor: `user:${user.userId}`,
            action: 'intent.rejected_by_human',
            subject: `intent:${intent.id}`,
            data: { approvalId: id, reason },
          },
        });
        return 'rejected' as const;
      }
      if (approval.approvedBy.length + 1 >= approval.required) {
        await closeApproval(client, id, 'approved', `user:${user.userId}`, null);
        return 'approved' as const;
      }
      return 'pending' as const;
    });
    let intent: IntentRecord | null = null;
    const approval = (await findApproval(pool, id))!;
    if (outcome === 'approved') intent = await this.deps.pipeline.resumeApproved(approval.intentId, options.requestId);
    return { approval, intent: intent ?? (await findIntent(pool, approval.intentId)) };
  }

  private async assertEligible(client: pg.PoolClient, approval: ApprovalRecord, user: UserPrincipal): Promise<void> {
    const refuse = (why: string): never => {
      throw new Clawd402Error('approval_not_eligible', `This user may not vote on this approval: ${why}.`);
    };
    if (approval.excludedUserId === user.userId) refuse("the rule excludes the agent's owner");
    if (approval.roles !== null && !approval.roles.includes(user.role)) refuse(`only ${approval.roles.join(', ')} may`);
    if (approval.approvers !== null) {
      const record = await findUser(client, user.userId);
      const names = [user.userId, record?.username].filter(Boolean) as string[];
      if (!approval.approvers.some((a) => names.includes(a))) refuse('not one of the named approvers');
    }
  }

  /**
   * The clock: pending approvals whose time ran out at `now` escalate once (notify the escalation channels and wait
   * its timeout) if the rule says so, otherwise they expire and their intent is rejected. Then intents whose approval
   * committed but whose process died before resuming them are resumed. Safe in several processes (SKIP LOCKED). The
   * `approvals-sweep` worker runs it every second (workers/gateway-workers.ts); tests call it with their own `now`.
   */
  async sweep(now: Date = new Date()): Promise<{ escalated: number; expired: number; resumed: number }> {
    let escalated = 0;
    let expired = 0;
    await withTransaction(this.deps.pool, async (client) => {
      for (const approval of await lockExpiredApprovals(client, now, SWEEP_BATCH)) {
        if (approval.escalation !== null && approval.escalatedAt === null) {
          await escalateApproval(
            client,
            approval.id,
            new Date(now.getTime() + approval.escalation.timeoutSeconds * 1000),
          );
          for (const channel of approval.escalation.channels) {
            await enqueueNotification(client, {
              channel,
              event: 'approval.escalated',
              subject: `Escalation: an approval has waited past its timeout (intent ${approval.intentId})`,
              payload: {
                approvalId: approval.id,
                intentId: approval.intentId,
                waitingSince: approval.createdAt.toISOString(),
              },
              dedupeKey: `approval:${approval.id}:escalated`,
            });
          }
          escalated += 1;
          continue;
        }
        await closeApproval(client, approval.id, 'expired', 'system:approvals', 'timed out');
        await transitionIntent(client, approval.intentId, ['pending_approval'], 'rejected', {
          fields: {
            error_code: 'approval_expired',
            error_message: 'Nobody approved the intent in time; it was rejected and nothing was signed.',
          },
          audit: {
            actor: 'system:approvals',
            action: 'intent.approval_expired',
            subject: `intent:${approval.intentId}`,
            data: { approvalId: approval.id },
          },
        });
        expired += 1;
      }
    });
    let resumed = 0;
    for (const intentId of await findApprovedButWaiting(this.deps.pool, SWEEP_BATCH)) {
      await this.deps.pipeline.resumeApproved(intentId);
      resumed += 1;
    }
    return { escalated, expired, resumed };
  }
}

import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { Clawd402Error, type Decision } from '@clawd402/protocol';
import type { IntentRecord } from '../domain/intent.ts';
import { intentDigest } from '../domain/intent-call.ts';
import { findApprovalForIntent, insertApproval } from '../repositories/approvals-repository.ts';
import { findIntent, transitionIntent } from '../repositories/intents-repository.ts';
import { enqueueNotification } from '../repositories/notifications-repository.ts';

/**
 * Stage 9 — approve (docs/approvals.md). An intent the decision sends to a human gets an approval record bound to the
 * digest of exactly what will be signed, and its notifications, in the deciding transaction
 * ({@link createApprovalRequest}). Votes, quorum, escalation and expiry are the approval service's
 * (approvals/approval-service.ts); when a quorum approves, the path resumes here: {@link checkApproved} makes sure the
 * approval still binds the stored intent before it is valued again, reserved and signed (intent-path.ts).
 */

/** Default time a human has to decide when the rule names no timeout (the linter warns about such rules). */
const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 1800;

/**
 * The approval record of an intent now pending approval, bound to the digest of what will be signed, and its
 * notifications, in the deciding transaction (all commit together or none).
 */
export async function createApprovalRequest(
  client: pg.PoolClient,
  intent: IntentRecord,
  decision: Decision,
  agentId: string,
): Promise<void> {
  const approval = decision.approval;
  const id = randomUUID();
  const channels = approval?.notification.channels ?? [];
  await insertApproval(client, {
    id,
    intentId: intent.id,
    digest: intentDigest(intent),
    required: approval?.quorum.required ?? 1,
    approvers: approval?.quorum.approvers ?? null,
    roles: approval?.quorum.roles ?? null,
    excludeOwnerOfAgent: approval?.quorum.excludeAgentOwner ? agentId : null,
    channels,
    escalation: approval?.notification.escalation ?? null,
    timeoutSeconds: approval?.notification.timeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  });
  for (const channel of channels) {
    await enqueueNotification(client, {
      channel,
      event: 'approval.requested',
      subject: `Approval needed: ${intent.type} of ${intent.amount} (base units) ${intent.asset === 'native' ? 'native' : intent.asset} to ${intent.recipient} on chain ${intent.chainId}`,
      payload: {
        approvalId: id,
        intentId: intent.id,
        agentId,
        chainId: intent.chainId,
        type: intent.type,
        recipient: intent.recipient,
        asset: intent.asset,
        amount: intent.amount.toString(),
        valueUsd: decision.money?.valueUsd ?? null,
        rule: decision.policy,
        reasons: decision.reasons.map((r) => r.code),
      },
      dedupeKey: `approval:${id}:requested`,
    });
  }
}

/**
 * Whether a human-approved intent may go on: it must still be `pending_approval`, its approval `approved`, and its
 * stored fields must still hash to the approved digest. A changed intent is rejected with `approval_digest_mismatch`
 * (nothing is signed). Returns `go` with the intent, or `stop` with the intent as it now stands.
 */
export async function checkApproved(
  pool: pg.Pool,
  intentId: string,
): Promise<{ go: true; intent: IntentRecord } | { go: false; intent: IntentRecord | null }> {
  const intent = await findIntent(pool, intentId);
  if (intent?.status !== 'pending_approval') return { go: false, intent };
  const approval = await findApprovalForIntent(pool, intentId);
  if (approval?.status !== 'approved') return { go: false, intent };
  if (intentDigest(intent) === approval.digest) return { go: true, intent };
  // The intent is not what was approved (its stored fields changed): the approval does not count; nothing is signed.
  const rejected = await transitionIntent(pool, intent.id, ['pending_approval'], 'rejected', {
    fields: {
      error_code: 'approval_digest_mismatch',
      error_message: new Clawd402Error('approval_digest_mismatch').message,
    },
    audit: {
      actor: 'system:gateway',
      action: 'intent.rejected_after_approval',
      subject: `intent:${intent.id}`,
      data: { reasons: ['approval_digest_mismatch'], approvalId: approval.id },
    },
  });
  return { go: false, intent: rejected ?? intent };
}

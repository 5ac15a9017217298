import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { logEvent, type EventLogger } from '@clawd402/protocol';
import type { QueuedApproval } from '../../services/approval-queue-service.ts';
import { AnyJson, IdParams, Literals, SHA256_PATTERN, iso, withErrors } from '../schemas.ts';
import { PageLimit, givenFilters, limitOr } from '../list-query.ts';
import { toIntentView } from '../v1/intent-view.ts';
import { me } from '../acting-user.ts';
import { decodedView } from './approval-decoded.ts';

/** A vote that closed its approval is logged (docs/logging.md); one that only counted is in the audit chain. */
function logClosed(log: EventLogger, voted: QueuedApproval, userId: string): QueuedApproval {
  const { approval } = voted;
  const fields = { intentId: approval.intentId, approvalId: approval.id, userId };
  if (approval.status === 'approved') logEvent(log, 'intent.approved', fields);
  if (approval.status === 'rejected') logEvent(log, 'intent.rejected', fields); // the reason is in the audit chain
  return voted;
}

function view({ approval, intent }: QueuedApproval) {
  return {
    id: approval.id,
    status: approval.status,
    digest: approval.digest,
    required: approval.required,
    approvedBy: approval.approvedBy,
    approvers: approval.approvers,
    roles: approval.roles,
    channels: approval.channels,
    escalation: approval.escalation,
    expiresAt: approval.expiresAt.toISOString(),
    escalatedAt: iso(approval.escalatedAt),
    decidedAt: iso(approval.decidedAt),
    decidedBy: approval.decidedBy,
    reason: approval.reason,
    createdAt: approval.createdAt.toISOString(),
    intent: intent ? toIntentView(intent) : null,
    /** What the intent's calldata does, decoded (effects with recipients, spenders and amounts; calls in a batch). */
    decoded: intent ? decodedView(intent) : null,
    /** The intent's value in USD at decision time (decimal string), or null when it was not priced. */
    valueUsd: intent?.decision?.money?.valueUsd ?? null,
    agentId: intent?.agentId ?? null,
  };
}

/**
 * /admin/approvals: intents waiting for humans. Approve binds to the digest the approver saw (`digest` is required):
 * it counts once per user, only for that digest, only while the approval is pending. Reject needs a reason.
 */
const adminApprovals: FastifyPluginAsyncTypebox = async (app) => {
  const { approvalQueue } = app.services;

  app.get(
    '/admin/approvals',
    {
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(Literals(['pending', 'approved', 'rejected', 'expired'])),
            limit: Type.Optional(PageLimit),
          },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: AnyJson }),
      },
    },
    async (request) => {
      const { query } = request;
      const approvals = await approvalQueue.list({
        ...givenFilters(query, ['status']),
        limit: limitOr(query.limit, 50),
      });
      return { items: approvals.map(view) };
    },
  );

  app.get(
    '/admin/approvals/:id',
    {
      schema: { params: IdParams, response: withErrors({ 200: AnyJson }) },
    },
    async (request) => {
      return view(await approvalQueue.get(request.params.id));
    },
  );

  app.post(
    '/admin/approvals/:id/approve',
    {
      schema: {
        params: IdParams,
        body: Type.Object({ digest: Type.String({ pattern: SHA256_PATTERN }) }, { additionalProperties: false }),
        response: withErrors({ 200: AnyJson }),
      },
    },
    async (request) => {
      const user = me(request);
      const voted = await approvalQueue.vote(user, request.params.id, 'approve', {
        digest: request.body.digest,
        requestId: request.id,
      });
      return view(logClosed(request.log, voted, user.userId));
    },
  );

  app.post(
    '/admin/approvals/:id/reject',
    {
      schema: {
        params: IdParams,
        body: Type.Object(
          {
            reason: Type.String({ minLength: 1, maxLength: 500 }),
            digest: Type.Optional(Type.String({ pattern: SHA256_PATTERN })),
          },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: AnyJson }),
      },
    },
    async (request) => {
      const { body } = request;
      const user = me(request);
      const voted = await approvalQueue.vote(user, request.params.id, 'reject', {
        reason: body.reason,
        ...(body.digest ? { digest: body.digest } : {}),
      });
      return view(logClosed(request.log, voted, user.userId));
    },
  );
};
export default adminApprovals;

import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { Clawd402Error, ErrorBody } from '@clawd402/protocol';
import { findApproval, listApprovals, type ApprovalRecord, type ApprovalStatus } from '../../repositories/approvals-repository.ts';
import { findIntent, toIntentView, type IntentRecord } from '../../repositories/intents-repository.ts';
import { me } from './users.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const DIGEST = '^sha256:[0-9a-f]{64}$';

function view(approval: ApprovalRecord, intent: IntentRecord | null) {
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
    escalatedAt: approval.escalatedAt?.toISOString() ?? null,
    decidedAt: approval.decidedAt?.toISOString() ?? null,
    decidedBy: approval.decidedBy,
    reason: approval.reason,
    createdAt: approval.createdAt.toISOString(),
    intent: intent ? toIntentView(intent) : null,
  };
}

/**
 * /admin/approvals: intents waiting for humans. Approve binds to the digest the approver saw (`digest` is required):
 * it counts once per user, only for that digest, only while the approval is pending. Reject needs a reason.
 */
const adminApprovals: FastifyPluginAsync = async (app) => {
  const { pool } = app.services;
  const service = () => app.services.approvals;

  const load = async (id: string): Promise<ApprovalRecord> => {
    const approval = UUID.test(id) ? await findApproval(pool, id) : null;
    if (!approval) throw new Clawd402Error('not_found', 'No such approval.');
    return approval;
  };

  app.get(
    '/admin/approvals',
    {
      config: { permission: 'approvals:read' },
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union(['pending', 'approved', 'rejected', 'expired'].map((s) => Type.Literal(s)))),
            limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|100)$' })),
          },
          { additionalProperties: false },
        ),
        response: { '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const query = request.query as { status?: ApprovalStatus; limit?: string };
      const approvals = await listApprovals(pool, { ...(query.status ? { status: query.status } : {}), limit: query.limit ? Number(query.limit) : 50 });
      return { items: await Promise.all(approvals.map(async (a) => view(a, await findIntent(pool, a.intentId)))) };
    },
  );

  app.get(
    '/admin/approvals/:id',
    { config: { permission: 'approvals:read' }, schema: { params: IdParams, response: { '4xx': ErrorBody, '5xx': ErrorBody } } },
    async (request) => {
      const approval = await load((request.params as { id: string }).id);
      return view(approval, await findIntent(pool, approval.intentId));
    },
  );

  app.post(
    '/admin/approvals/:id/approve',
    {
      config: { permission: 'approvals:decide' },
      schema: {
        params: IdParams,
        body: Type.Object({ digest: Type.String({ pattern: DIGEST }) }, { additionalProperties: false }),
        response: { '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      await load(id);
      const { digest } = request.body as { digest: string };
      const result = await service().vote(me(request), id, 'approve', { digest });
      return view(result.approval, result.intent);
    },
  );

  app.post(
    '/admin/approvals/:id/reject',
    {
      config: { permission: 'approvals:decide' },
      schema: {
        params: IdParams,
        body: Type.Object(
          { reason: Type.String({ minLength: 1, maxLength: 500 }), digest: Type.Optional(Type.String({ pattern: DIGEST })) },
          { additionalProperties: false },
        ),
        response: { '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      await load(id);
      const body = request.body as { reason: string; digest?: string };
      const result = await service().vote(me(request), id, 'reject', { reason: body.reason, ...(body.digest ? { digest: body.digest } : {}) });
      return view(result.approval, result.intent);
    },
  );
};
export default adminApprovals;

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { INTENT_STATUSES, IntentView } from '@clawd402/protocol';
import { formatUsd, parseUsd } from '../../domain/usd.ts';
import { isUuid } from '../../lib/uuid.ts';
import type { IntentRecord } from '../../services/intents-service.ts';
import { toIntentView } from '../v1/intent-view.ts';
import { assertNoBody } from '../v1/intent-actions.ts';
import { decodeCursor, encodeCursor } from '../v1/intents.ts';
import { me } from '../acting-user.ts';
import { ChainIdText, IdParams, Literals, withErrors } from '../schemas.ts';
import { PageLimit, givenFilters, limitOr } from '../list-query.ts';
import { timeWindow } from './audit.ts';
import { AuditRecordSchema, DateTimeQuery, SegmentSchema, auditRecordView, segmentView } from './audit-view.ts';

const TransactionView = Type.Object(
  {
    txHash: Type.String(),
    nonce: Type.Integer(),
    kind: Type.Union([Type.Literal('original'), Type.Literal('speedup'), Type.Literal('cancel'), Type.Literal('fill')]),
    route: Type.Union([Type.Literal('public'), Type.Literal('private')]),
    maxFeePerGas: Type.String(),
    maxPriorityFeePerGas: Type.String(),
    createdAt: Type.String(),
  },
  { additionalProperties: false },
);
const ActionResult = Type.Object(
  {
    intent: IntentView,
    /** Where its transactions go: `public` mempool or the chain's `private` relay (null before signing). */
    route: Type.Union([Type.Literal('public'), Type.Literal('private'), Type.Null()]),
    /** Every transaction signed for its nonce, newest first. */
    transactions: Type.Array(TransactionView),
  },
  { additionalProperties: false },
);

/** An intent as operators see it: the agent's view plus whose it is and its USD value. */
const OperatorIntent = Type.Object(
  {
    agentId: Type.String(),
    valueUsd: Type.Union([Type.String(), Type.Null()]),
    intent: IntentView,
  },
  { additionalProperties: false },
);

const operatorIntent = (intent: IntentRecord) => ({
  agentId: intent.agentId,
  valueUsd: intent.valueUsdMicros === null ? null : formatUsd(intent.valueUsdMicros),
  intent: toIntentView(intent),
});

const BaseUnits = Type.String({ pattern: '^(0|[1-9][0-9]{0,77})$' });
const UsdQuery = Type.String({ pattern: '^(0|[1-9][0-9]{0,15})(\\.[0-9]{1,6})?$' });

/**
 * /admin/intents (every agent's intents, filtered, keyset-paginated) and /admin/intents/:id (one intent with its
 * decision, reasons, transactions and audit trail, the trail's chain segment verified), for operators;
 * /admin/intents/:id/cancel and /admin/intents/:id/speed-up: an operator cancels or speeds up any agent's intent
 * (docs/submission.md). Replacements keep the nonce and the route, raise both fees by the configured bump, stay under
 * the chain's fee caps, go through the signer and are audited with the acting user.
 */
const adminIntents: FastifyPluginAsyncTypebox = async (app) => {
  const { intents, submission, audit } = app.services;

  const result = async (intent: IntentRecord) => ({
    intent: toIntentView(intent),
    route: intent.submitRoute,
    transactions: (await intents.attempts(intent.id)).map((a) => ({
      txHash: a.txHash,
      nonce: a.nonce,
      kind: a.kind,
      route: a.route,
      maxFeePerGas: a.maxFeePerGas.toString(),
      maxPriorityFeePerGas: a.maxPriorityFeePerGas.toString(),
      createdAt: a.createdAt.toISOString(),
    })),
  });

  app.get(
    '/admin/intents',
    {
      schema: {
        querystring: Type.Object(
          {
            agent: Type.Optional(Type.String({ maxLength: 64 })),
            status: Type.Optional(Literals(INTENT_STATUSES)),
            chain: Type.Optional(ChainIdText),
            since: Type.Optional(DateTimeQuery),
            until: Type.Optional(DateTimeQuery),
            minAmount: Type.Optional(BaseUnits),
            maxAmount: Type.Optional(BaseUnits),
            minUsd: Type.Optional(UsdQuery),
            maxUsd: Type.Optional(UsdQuery),
            limit: Type.Optional(PageLimit),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: withErrors({
          200: Type.Object(
            { items: Type.Array(OperatorIntent), nextCursor: Type.Union([Type.String(), Type.Null()]) },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => {
      const q = request.query;
      // An agent id that is not a UUID matches nothing (like a missing one).
      if (q.agent !== undefined && !isUuid(q.agent)) return { items: [], nextCursor: null };
      const page = await intents.list({
        ...(q.agent ? { agentId: q.agent } : {}),
        ...givenFilters(q, ['status']),
        ...(q.chain ? { chainId: Number(q.chain) } : {}),
        ...timeWindow(q),
        ...(q.minAmount ? { minAmount: BigInt(q.minAmount) } : {}),
        ...(q.maxAmount ? { maxAmount: BigInt(q.maxAmount) } : {}),
        ...(q.minUsd ? { minUsdMicros: parseUsd(q.minUsd)! } : {}),
        ...(q.maxUsd ? { maxUsdMicros: parseUsd(q.maxUsd)! } : {}),
        limit: limitOr(q.limit, 20),
        ...(q.cursor ? { after: decodeCursor(q.cursor) } : {}),
      });
      return { items: page.items.map(operatorIntent), nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.get(
    '/admin/intents/:id',
    {
      schema: {
        params: IdParams,
        response: withErrors({
          200: Type.Object(
            {
              agentId: Type.String(),
              valueUsd: Type.Union([Type.String(), Type.Null()]),
              intent: IntentView,
              transactions: Type.Array(TransactionView),
              /** Its audit records (subject `intent:<id>`), oldest first, and the chain segment they lie in, verified. */
              audit: Type.Array(AuditRecordSchema),
              auditSegment: SegmentSchema,
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => {
      const intent = await intents.get(request.params.id);
      const [detail, trail] = await Promise.all([
        result(intent),
        audit.list({ subject: `intent:${intent.id}`, limit: 100 }),
      ]);
      return {
        ...operatorIntent(intent),
        transactions: detail.transactions,
        audit: trail.items.map(auditRecordView).reverse(),
        auditSegment: segmentView(trail.segment),
      };
    },
  );

  app.post(
    '/admin/intents/:id/cancel',
    {
      schema: {
        params: IdParams,
        response: withErrors({ 200: ActionResult, 202: ActionResult }),
      },
    },
    async (request, reply) => {
      assertNoBody(request);
      const intent = await intents.get(request.params.id);
      const done = await submission.cancel(intent.id, { actor: `user:${me(request).userId}`, reason: 'operator' });
      return reply.status(done.pending ? 202 : 200).send(await result(done.intent));
    },
  );

  app.post(
    '/admin/intents/:id/speed-up',
    {
      schema: { params: IdParams, response: withErrors({ 202: ActionResult }) },
    },
    async (request, reply) => {
      assertNoBody(request);
      const intent = await intents.get(request.params.id);
      const sped = await submission.speedUp(intent.id, { actor: `user:${me(request).userId}` });
      return reply.status(202).send(await result(sped));
    },
  );
};
export default adminIntents;

import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { Clawd402Error, ErrorBody, IntentView } from '@clawd402/protocol';
import { findIntent, listAttempts, toIntentView, type IntentRecord } from '../../repositories/intents-repository.ts';
import { assertNoBody } from '../v1/intent-actions.ts';
import { me } from './users.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const Params = Type.Object({ id: Type.String({ maxLength: 64 }) });

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

/**
 * /admin/intents/:id/cancel and /admin/intents/:id/speed-up: an operator cancels or speeds up any agent's intent
 * (docs/submission.md). Replacements keep the nonce and the route, raise both fees by the configured bump, stay under
 * the chain's fee caps, go through the signer and are audited with the acting user.
 */
const adminIntents: FastifyPluginAsync = async (app) => {
  const { pool, submission } = app.services;

  const load = async (id: string): Promise<IntentRecord> => {
    const intent = UUID.test(id) ? await findIntent(pool, id) : null;
    if (!intent) throw new Clawd402Error('not_found', 'No such intent.');
    return intent;
  };
  const result = async (intent: IntentRecord) => ({
    intent: toIntentView(intent),
    route: intent.submitRoute,
    transactions: (await listAttempts(pool, intent.id)).map((a) => ({
      txHash: a.txHash,
      nonce: a.nonce,
      kind: a.kind,
      route: a.route,
      maxFeePerGas: a.maxFeePerGas.toString(),
      maxPriorityFeePerGas: a.maxPriorityFeePerGas.toString(),
      createdAt: a.createdAt.toISOString(),
    })),
  });

  app.post(
    '/admin/intents/:id/cancel',
    {
      config: { permission: 'intents:manage' },
      schema: { params: Params, response: { 200: ActionResult, 202: ActionResult, '4xx': ErrorBody, '5xx': ErrorBody } },
    },
    async (request, reply) => {
      assertNoBody(request);
      const intent = await load((request.params as { id: string }).id);
      const done = await submission.cancel(intent.id, { actor: `user:${me(request).userId}`, reason: 'operator' });
      return reply.status(done.pending ? 202 : 200).send(await result(done.intent));
    },
  );

  app.post(
    '/admin/intents/:id/speed-up',
    {
      config: { permission: 'intents:manage' },
      schema: { params: Params, response: { 202: ActionResult, '4xx': ErrorBody, '5xx': ErrorBody } },
    },
    async (request, reply) => {
      assertNoBody(request);
      const intent = await load((request.params as { id: string }).id);
      const sped = await submission.speedUp(intent.id, { actor: `user:${me(request).userId}` });
      return reply.status(202).send(await result(sped));
    },
  );
};
export default adminIntents;

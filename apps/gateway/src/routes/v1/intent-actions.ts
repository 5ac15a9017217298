import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Clawd402Error, IntentView } from '@clawd402/protocol';
import { toIntentView } from './intent-view.ts';
import { IdParams, withErrors } from '../schemas.ts';

/** These actions take no body; one that carries fields is refused rather than silently ignored. */
export function assertNoBody(request: { body: unknown }): void {
  const body = request.body;
  if (body === undefined || body === null) return;
  if (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0) return;
  const field = typeof body === 'object' && body !== null && !Array.isArray(body) ? Object.keys(body)[0] : undefined;
  throw new Clawd402Error('unknown_field', 'This endpoint takes no body.', {
    details: { location: 'body', ...(field ? { field } : {}) },
  });
}

/**
 * /v1/intents/:id/cancel: an agent cancels one of its own intents (docs/submission.md). Not yet signed: it ends
 * `cancelled` at once (200). Signed or submitted: a zero-value self-transfer at the same nonce, with higher fees and on
 * the same route, is signed through the signer and broadcast (202); the intent ends `cancelled` if it is mined first,
 * `confirmed` if the original wins. Another agent's intent answers 404, exactly like a missing one.
 */
const intentActions: FastifyPluginAsyncTypebox = async (app) => {
  const { intents, submission } = app.services;
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/v1/intents/:id/cancel',
    {
      schema: {
        params: IdParams,
        response: withErrors({ 200: IntentView, 202: IntentView }),
      },
    },
    async (request, reply) => {
      assertNoBody(request);
      const agent = request.agent!;
      const own = await intents.getForAgent(agent.agentId, request.params.id);
      const { intent, pending } = await submission.cancel(own.id, { actor: `agent:${agent.agentId}`, reason: 'agent' });
      return reply.status(pending ? 202 : 200).send(toIntentView(intent));
    },
  );
};
export default intentActions;

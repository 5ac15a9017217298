import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { Clawd402Error, ErrorBody, IntentView } from '@clawd402/protocol';
import { findIntentForAgent, toIntentView } from '../../repositories/intents-repository.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** These actions take no body; one that carries fields is refused rather than silently ignored. */
export function assertNoBody(request: FastifyRequest): void {
  const body = request.body as unknown;
  if (body === undefined || body === null) return;
  if (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0) return;
  const field = typeof body === 'object' && body !== null && !Array.isArray(body) ? Object.keys(body)[0] : undefined;
  throw new Clawd402Error('unknown_field', 'This endpoint takes no body.', { details: { location: 'body', ...(field ? { field } : {}) } });
}

/**
 * /v1/intents/:id/cancel: an agent cancels one of its own intents (docs/submission.md). Not yet signed: it ends
 * `cancelled` at once (200). Signed or submitted: a zero-value self-transfer at the same nonce, with higher fees and on
 * the same route, is signed through the signer and broadcast (202); the intent ends `cancelled` if it is mined first,
 * `confirmed` if the original wins. Another agent's intent answers 404, exactly like a missing one.
 */
const intentActions: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/v1/intents/:id/cancel',
    {
      config: { permission: 'intents:cancel' },
      schema: {
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 200: IntentView, 202: IntentView, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request, reply) => {
      assertNoBody(request);
      const { id } = request.params as { id: string };
      const agent = request.agent!;
      const own = UUID.test(id) ? await findIntentForAgent(app.services.pool, agent.agentId, id) : null;
      if (!own) throw new Clawd402Error('not_found', 'No such intent.');
      const { intent, pending } = await app.services.submission.cancel(own.id, { actor: `agent:${agent.agentId}`, reason: 'agent' });
      return reply.status(pending ? 202 : 200).send(toIntentView(intent));
    },
  );
};
export default intentActions;

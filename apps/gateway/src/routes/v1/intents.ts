import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import Type from 'typebox';
import {
  API_ERRORS,
  Clawd402Error,
  ContractCallIntentBody,
  ErrorBody,
  INTENT_STATUSES,
  IntentView,
  SwapIntentBody,
  TypedDataIntentBody,
  MessageIntentBody,
  AuthorizationIntentBody,
  TransferIntentBody,
  isApiErrorCode,
  type IntentBody,
  type IntentStatus,
} from '@clawd402/protocol';
import { appendAudit } from '../../repositories/audit-repository.ts';
import {
  findIntentForAgent,
  listIntentsForAgent,
  toIntentView,
  type IntentRecord,
  type ListCursor,
} from '../../repositories/intents-repository.ts';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Discriminated on `type`, so a bad field is reported against the right variant (ajv `discriminator`).
const IntentRequest = {
  type: 'object',
  discriminator: { propertyName: 'type' },
  required: ['type'],
  oneOf: [TransferIntentBody, ContractCallIntentBody, SwapIntentBody, TypedDataIntentBody, MessageIntentBody, AuthorizationIntentBody],
};

const IntentList = Type.Object(
  { items: Type.Array(IntentView), nextCursor: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: false },
);

/** Reply with an intent: 201 created, 200 idempotent replay, 202 signed but not yet broadcast; errors carry it. */
function sendIntent(reply: FastifyReply, intent: IntentRecord, created: boolean): FastifyReply {
  const view = toIntentView(intent);
  if (!created) reply.header('idempotent-replayed', 'true');
  if (intent.status === 'rejected') {
    return reply.status(403).send({ code: 'policy_denied', message: API_ERRORS.policy_denied.message, intent: view });
  }
  if (intent.status === 'failed' && intent.error && isApiErrorCode(intent.error.code)) {
    const status = API_ERRORS[intent.error.code].status;
    const message = status >= 500 ? API_ERRORS[intent.error.code].message : intent.error.message;
    return reply.status(status).send({ code: intent.error.code, message, intent: view });
  }
  // A signature intent's `signed` is final (201); a transaction's means not yet broadcast (202).
  const accepted = (intent.status === 'signed' && intent.signing === null) || intent.status === 'pending_approval';
  return reply.status(!created ? 200 : accepted ? 202 : 201).send(view);
}

function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(`${cursor.createdAt}|${cursor.id}`, 'utf8').toString('base64url');
}

function decodeCursor(text: string): ListCursor {
  const [createdAt, id] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (!createdAt || !id || !UUID.test(id) || Number.isNaN(Date.parse(createdAt)) || new Date(createdAt).toISOString() !== createdAt) {
    throw new Clawd402Error('invalid_cursor');
  }
  return { createdAt, id };
}

/** /v1/intents: agents submit intents and read their own. Every route here requires a bearer token. */
const intents: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/v1/intents',
    {
      config: { permission: 'intents:create' },
      schema: {
        body: IntentRequest,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        response: { 200: IntentView, 201: IntentView, 202: IntentView, '4xx': ErrorBody, '5xx': ErrorBody },
      },
      // Refused intents leave one trace: an audit record naming the agent and the code. Nothing else is written.
      onRequest: async (request) => {
        const principal = request.agent!;
        request.auditRefusal = async (code) => {
          await appendAudit(app.services.pool, {
            actor: `agent:${principal.agentId}`,
            action: 'intent.refused',
            subject: null,
            data: { apiKeyId: principal.apiKeyId, code },
          });
        };
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
        throw new Clawd402Error('invalid_idempotency_key');
      }
      const agent = request.agent!;
      const body = request.body as IntentBody;
      if ((agent.scopes.chains && !agent.scopes.chains.includes(body.chainId)) || (agent.scopes.types && !agent.scopes.types.includes(body.type))) {
        throw new Clawd402Error('key_scope_denied', undefined, { details: { chainId: body.chainId, type: body.type } });
      }
      const result = await app.services.pipeline.submit(agent, body, key ?? null);
      request.auditRefusal = undefined; // from here on the intent's own audit trail speaks for it
      return sendIntent(reply, result.intent, result.created);
    },
  );

  app.get(
    '/v1/intents/:id',
    {
      config: { permission: 'intents:read' },
      schema: {
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        // wait=<seconds> (1–60): long-poll until the intent's status changes, or the time is up (then it answers as is).
        querystring: Type.Object({ wait: Type.Optional(Type.String({ pattern: '^(?:[1-9]|[1-5][0-9]|60)$' })) }, { additionalProperties: false }),
        response: { 200: IntentView, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const { wait } = request.query as { wait?: string };
      const load = () => (UUID.test(id) ? findIntentForAgent(app.services.pool, request.agent!.agentId, id) : Promise.resolve(null));
      // Another agent's intent answers exactly like a missing one.
      let intent = await load();
      if (!intent) throw new Clawd402Error('not_found', 'No such intent.');
      if (wait !== undefined) {
        const start = intent.status;
        const until = Date.now() + Number(wait) * 1000;
        while (intent.status === start && Date.now() < until && !request.raw.destroyed) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(0, until - Date.now()))));
          intent = (await load()) ?? intent;
        }
      }
      return toIntentView(intent);
    },
  );

  app.get(
    '/v1/intents',
    {
      config: { permission: 'intents:read' },
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union(INTENT_STATUSES.map((s) => Type.Literal(s)))),
            limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|100)$' })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: IntentList, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const query = request.query as { status?: IntentStatus; limit?: string; cursor?: string };
      const page = await listIntentsForAgent(app.services.pool, request.agent!.agentId, {
        ...(query.status ? { status: query.status } : {}),
        limit: query.limit ? Number(query.limit) : 20,
        ...(query.cursor ? { after: decodeCursor(query.cursor) } : {}),
      });
      return { items: page.items.map(toIntentView), nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );
};
export default intents;

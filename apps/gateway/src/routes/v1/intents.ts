import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { API_ERRORS, Clawd402Error, INTENT_STATUSES, IntentView, IntentBody, isApiErrorCode } from '@clawd402/protocol';
import type { IntentRecord, ListCursor } from '../../services/intents-service.ts';
import { toIntentView } from './intent-view.ts';
import { IdsQuery, isSettled, parseIds, waitSignal } from './intent-waiting.ts';
import { restOrigin } from '../../domain/origin.ts';
import { isUuid } from '../../lib/uuid.ts';
import { IdParams, Literals, withErrors } from '../schemas.ts';
import { PageLimit, givenFilters, limitOr } from '../list-query.ts';

/** An Idempotency-Key (header of POST /v1/intents, `idempotencyKey` of MCP's pay_x402): 1–255 visible ASCII. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

// Every body the protocol accepts (its IntentBody), discriminated on `type`, so a bad field is reported against the
// right variant (ajv `discriminator`). Type.Unsafe keeps the JSON Schema exactly as written (a TypeBox union would be
// `anyOf`) and types the body.
const IntentRequest = Type.Unsafe<IntentBody>({
  type: 'object',
  discriminator: { propertyName: 'type' },
  required: ['type'],
  oneOf: IntentBody.anyOf,
});

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

export function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(`${cursor.createdAt}|${cursor.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(text: string): ListCursor {
  const [createdAt, id] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (
    !createdAt ||
    !id ||
    !isUuid(id) ||
    Number.isNaN(Date.parse(createdAt)) ||
    new Date(createdAt).toISOString() !== createdAt
  ) {
    throw new Clawd402Error('invalid_cursor');
  }
  return { createdAt, id };
}

/** /v1/intents: agents submit intents and read their own. Every route here requires a bearer token. */
const intents: FastifyPluginAsyncTypebox = async (app) => {
  const { intents: reads, pipeline, watcher } = app.services;
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/v1/intents',
    {
      schema: {
        body: IntentRequest,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        response: withErrors({ 200: IntentView, 201: IntentView, 202: IntentView }),
      },
      // Refused intents leave one trace: an audit record naming the agent and the code. Nothing else is written.
      onRequest: async (request) => {
        const principal = request.agent!;
        request.auditRefusal = (code) => reads.auditRefusal(principal, code);
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
        throw new Clawd402Error('invalid_idempotency_key');
      }
      const agent = request.agent!;
      const body = request.body;
      const result = await pipeline.submit(agent, body, key ?? null, restOrigin(body.type), request.id);
      request.auditRefusal = undefined; // from here on the intent's own audit trail speaks for it
      return sendIntent(reply, result.intent, result.created);
    },
  );

  app.get(
    '/v1/intents/:id',
    {
      schema: {
        params: IdParams,
        // wait=<seconds> (1–60): long-poll until the intent's status changes, or the time is up (then it answers as is).
        querystring: Type.Object(
          { wait: Type.Optional(Type.String({ pattern: '^(?:[1-9]|[1-5][0-9]|60)$' })) },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: IntentView }),
      },
    },
    async (request) => {
      const { id } = request.params;
      const { wait } = request.query;
      const agentId = request.agent!.agentId;
      if (wait === undefined) return toIntentView(await reads.getForAgent(agentId, id)); // another agent's: not_found
      // Woken by the process's one LISTEN connection (services/intent-watcher.ts), not by polling; subscribed before
      // the read, so no change falls in between. Ends early when the gateway shuts down (the intent as it is now).
      const intent = await longPoll(
        request,
        agentId,
        [id],
        Number(wait),
        async () => {
          const found = await reads.findForAgent(agentId, id);
          if (!found) throw new Clawd402Error('not_found', 'No such intent.');
          return [found];
        },
        false,
      );
      return toIntentView(intent[0]!);
    },
  );

  app.get(
    '/v1/intents',
    {
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(Literals(INTENT_STATUSES)),
            limit: Type.Optional(PageLimit),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            // ids=a,b,c (up to 100): exactly those intents (docs/waiting.md); with wait=<seconds> (1–60), a long-poll
            // that answers when any of them changes status, at once if one is already settled.
            ids: Type.Optional(IdsQuery),
            wait: Type.Optional(Type.String({ pattern: '^(?:[1-9]|[1-5][0-9]|60)$' })),
          },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: IntentList }),
      },
    },
    async (request) => {
      const query = request.query;
      if (query.ids !== undefined) return waitForMany(request.agent!.agentId, parseIds(query.ids), query, request);
      if (query.wait !== undefined) {
        throw new Clawd402Error('invalid_request', 'wait on the list needs ids.', {
          details: { location: 'querystring', field: 'wait' },
        });
      }
      const page = await reads.listForAgent(request.agent!.agentId, {
        ...givenFilters(query, ['status']),
        limit: limitOr(query.limit, 20),
        ...(query.cursor ? { after: decodeCursor(query.cursor) } : {}),
      });
      return { items: page.items.map(toIntentView), nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  /** `GET /v1/intents?ids=…[&wait=…]`: the listed intents, in the order asked; with wait, see {@link longPoll}. */
  async function waitForMany(
    agentId: string,
    ids: string[],
    query: { status?: string; cursor?: string; limit?: string; wait?: string },
    request: FastifyRequest,
  ) {
    if (query.status !== undefined || query.cursor !== undefined || query.limit !== undefined) {
      throw new Clawd402Error('invalid_request', 'ids cannot be combined with status, limit or cursor.', {
        details: { location: 'querystring', field: 'ids' },
      });
    }
    const load = () => reads.findManyForAgent(agentId, ids);
    const items =
      query.wait === undefined ? await load() : await longPoll(request, agentId, ids, Number(query.wait), load, true);
    const order = new Map(ids.map((id, i) => [id, i]));
    items.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    return { items: items.map(toIntentView), nextCursor: null };
  }

  /**
   * Read intents and (unless none was found, or `settledAnswers` and one is already settled) wait up to `seconds` for
   * any of them to change status, then read them again. Subscribed before the first read, so no change is missed.
   * A single intent waits even when settled (until the time is up), as it always has.
   */
  async function longPoll(
    request: FastifyRequest,
    agentId: string,
    ids: string[],
    seconds: number,
    load: () => Promise<IntentRecord[]>,
    settledAnswers: boolean,
  ): Promise<IntentRecord[]> {
    const subscription = watcher.subscribe(agentId, ids);
    try {
      const items = await load();
      if (items.length === 0 || (settledAnswers && items.some(isSettled))) return items;
      const start = new Map(items.map((i) => [i.id, i.status]));
      app.metrics.longPollsWaiting.inc();
      try {
        const changed = (i: IntentRecord): boolean => start.has(i.id) && start.get(i.id) !== i.status;
        await subscription.until(changed, seconds * 1000, waitSignal(request, app.services.closing));
      } finally {
        app.metrics.longPollsWaiting.dec();
      }
      const again = await load();
      return again.length > 0 ? again : items;
    } finally {
      subscription.close();
    }
  }
};
export default intents;

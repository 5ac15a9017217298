import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { IntentRecord } from '../../services/intents-service.ts';
import { IdsQuery, intentEvent, parseIds, waitSignal } from './intent-waiting.ts';
import { withErrors } from '../schemas.ts';

/** A heartbeat on every open stream this often, so proxies keep it open and clients can tell it is alive. */
export const HEARTBEAT_MS = 15_000;

/**
 * GET /v1/intents/events: one server-sent-event stream of the agent's own intents (docs/waiting.md). Every change of
 * status or transaction hash is an `intent` event; a `heartbeat` event comes at once (the stream is subscribed) and
 * every 15 s; `shutdown` ends it when the gateway closes. With `?ids=`, only those intents, and their current state
 * first. Fed by the process's one LISTEN connection (services/intent-watcher.ts): an idle stream costs no query.
 */
const EventsQuery = Type.Object({ ids: Type.Optional(IdsQuery) }, { additionalProperties: false });

const intentEvents: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  const { intents: reads, watcher, closing } = app.services;

  app.get(
    '/v1/intents/events',
    {
      schema: {
        querystring: EventsQuery,
        response: withErrors({ 200: Type.String({ description: 'text/event-stream' }) }),
      },
    },
    async (request, reply) => {
      const agentId = request.agent!.agentId;
      const ids = request.query.ids === undefined ? null : parseIds(request.query.ids);
      const signal = waitSignal(request, closing);
      const sent = new Map<string, { key: string; at: number }>();
      const raw = reply.raw;
      let seq = 0;
      let open = true;
      const write = (event: string, data: unknown): void => {
        if (!open) return;
        seq += 1;
        raw.write(`id: ${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const send = (intent: IntentRecord): void => {
        // Reads of two quick changes may finish out of order: never send an older state after a newer one.
        const key = `${intent.status}|${intent.txHash ?? ''}`;
        const last = sent.get(intent.id);
        const at = intent.updatedAt.getTime();
        if (last && (last.key === key || last.at > at)) return;
        sent.set(intent.id, { key, at });
        write('intent', intentEvent(intent));
      };
      const heartbeat = setInterval(() => write('heartbeat', { at: new Date().toISOString() }), HEARTBEAT_MS);
      heartbeat.unref();
      const finish = (reason: 'shutdown' | null): void => {
        if (!open) return;
        if (reason) write(reason, {});
        open = false;
        clearInterval(heartbeat);
        unwatch();
        raw.end();
      };
      // Subscribed before the current state is read, so no change falls between the two.
      const unwatch = watcher.watch({
        agentId,
        ids: ids && new Set(ids),
        onChange: send,
        onClose: () => finish('shutdown'),
      });
      reply.hijack();
      const headers = Object.entries(reply.getHeaders()).filter((entry) => entry[1] !== undefined);
      raw.writeHead(200, {
        ...(Object.fromEntries(headers) as Record<string, string | number | string[]>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      });
      raw.write('retry: 2000\n\n');
      signal.addEventListener('abort', () => finish(closing.aborted ? 'shutdown' : null), { once: true });
      if (signal.aborted) return finish(closing.aborted ? 'shutdown' : null);
      write('heartbeat', { at: new Date().toISOString() });
      if (ids) {
        try {
          for (const intent of await reads.findManyForAgent(agentId, ids)) send(intent);
        } catch (error) {
          request.log.error({ err: error }, 'could not read intents for an event stream');
          finish(null);
        }
      }
    },
  );
};
export default intentEvents;

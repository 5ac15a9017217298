import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ALERT_SEVERITIES, ALERT_STATUSES } from '../../domain/alert.ts';
import type { AlertRecord } from '../../services/alerts-service.ts';
import { me } from '../acting-user.ts';
import { HandlingFields, IdParams, Literals, NoteBody, Nullable, handlingTimes, iso, withErrors } from '../schemas.ts';
import { KeysetPage, KeysetQuery, givenFilters, keysetPage, limitOr } from '../list-query.ts';
import { timeWindow } from './audit.ts';
import { DateTimeQuery } from './audit-view.ts';

const AlertView = Type.Object(
  {
    id: Type.String(),
    at: Type.String(),
    kind: Type.String(),
    severity: Type.String(),
    subject: Type.String(),
    summary: Type.String(),
    detail: Type.Record(Type.String(), Type.Unknown()),
    status: Type.String(),
    /** Times raised within the deduplication window (repeats are counted here, never sent). */
    occurrences: Type.Integer(),
    lastAt: Type.String(),
    /** Channels it was sent to at once (empty: none, or the digest for medium alerts). */
    channels: Type.Array(Type.String()),
    routedAt: Nullable(Type.String()),
    digestedAt: Nullable(Type.String()),
    ...HandlingFields,
  },
  { additionalProperties: false },
);

function alertView(a: AlertRecord) {
  return {
    ...a,
    at: a.at.toISOString(),
    lastAt: a.lastAt.toISOString(),
    routedAt: iso(a.routedAt),
    digestedAt: iso(a.digestedAt),
    ...handlingTimes(a),
  };
}

/**
 * /admin/alerts: list alerts (filters, keyset pagination on id), acknowledge and resolve them (audited with the
 * acting user). See docs/incidents.md.
 */
const adminAlerts: FastifyPluginAsyncTypebox = async (app) => {
  const { alerts } = app.services;

  app.get(
    '/admin/alerts',
    {
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(Literals(ALERT_STATUSES)),
            severity: Type.Optional(Literals(ALERT_SEVERITIES)),
            kind: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' })),
            subject: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            since: Type.Optional(DateTimeQuery),
            until: Type.Optional(DateTimeQuery),
            ...KeysetQuery,
          },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: KeysetPage(AlertView) }),
      },
    },
    async (request) => {
      const q = request.query;
      const limit = limitOr(q.limit, 50);
      const items = await alerts.list({
        ...givenFilters(q, ['status', 'severity', 'kind', 'subject', 'before']),
        ...timeWindow(q),
        limit,
      });
      return keysetPage(items, limit, alertView);
    },
  );

  for (const [path, to] of [
    ['ack', 'acknowledged'],
    ['resolve', 'resolved'],
  ] as const) {
    app.post(
      `/admin/alerts/:id/${path}`,
      {
        schema: { params: IdParams, body: NoteBody, response: withErrors({ 200: AlertView }) },
      },
      async (request) => {
        const alert = await alerts.setStatus(
          request.params.id,
          to,
          `user:${me(request).userId}`,
          request.body?.note ?? null,
        );
        return alertView(alert);
      },
    );
  }
};
export default adminAlerts;

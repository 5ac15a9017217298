import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { INCIDENT_RULE_NAMES, INCIDENT_STATUSES } from '../../domain/incident.ts';
import type { IncidentDetail, IncidentRecord } from '../../services/incidents-service.ts';
import { me } from '../acting-user.ts';
import { HandlingFields, IdParams, Literals, NoteBody, Nullable, handlingTimes, withErrors } from '../schemas.ts';
import { KeysetPage, KeysetQuery, givenFilters, keysetPage, limitOr } from '../list-query.ts';

const IncidentView = Type.Object(
  {
    id: Type.String(),
    rule: Type.String(),
    severity: Type.String(),
    subject: Type.String(),
    summary: Type.String(),
    detail: Type.Record(Type.String(), Type.Unknown()),
    status: Type.String(),
    openedAt: Type.String(),
    ...HandlingFields,
  },
  { additionalProperties: false },
);

const DetailView = Type.Object(
  {
    incident: IncidentView,
    timeline: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          at: Type.String(),
          kind: Type.String(),
          actor: Type.String(),
          summary: Type.String(),
          detail: Type.Record(Type.String(), Type.Unknown()),
          alertId: Nullable(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    /** What the incident's automatic responses set that is still in force (a revert would undo it). */
    responsesInForce: Type.Array(
      Type.Object({ response: Type.String(), target: Type.String() }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);

function incidentView(i: IncidentRecord) {
  return {
    ...i,
    openedAt: i.openedAt.toISOString(),
    ...handlingTimes(i),
  };
}

function detailView(d: IncidentDetail) {
  return {
    incident: incidentView(d.incident),
    timeline: d.timeline.map((e) => ({ ...e, at: e.at.toISOString() })),
    responsesInForce: d.responsesInForce,
  };
}

const Responses = withErrors({ 200: DetailView });

/**
 * /admin/incidents: list incidents, read one with its timeline, acknowledge, add a note, resolve (optionally lifting
 * the pauses its automatic responses set) — each audited with the acting user. See docs/incidents.md.
 */
const adminIncidents: FastifyPluginAsyncTypebox = async (app) => {
  const { incidents } = app.services;

  app.get(
    '/admin/incidents',
    {
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(Literals(INCIDENT_STATUSES)),
            rule: Type.Optional(Literals(INCIDENT_RULE_NAMES)),
            subject: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            ...KeysetQuery,
          },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: KeysetPage(IncidentView) }),
      },
    },
    async (request) => {
      const q = request.query;
      const limit = limitOr(q.limit, 50);
      const items = await incidents.list({
        ...givenFilters(q, ['status', 'rule', 'subject', 'before']),
        limit,
      });
      return keysetPage(items, limit, incidentView);
    },
  );

  app.get('/admin/incidents/:id', { schema: { params: IdParams, response: Responses } }, async (request) =>
    detailView(await incidents.get(request.params.id)),
  );

  app.post(
    '/admin/incidents/:id/ack',
    { schema: { params: IdParams, body: NoteBody, response: Responses } },
    async (request) =>
      detailView(
        await incidents.acknowledge(request.params.id, `user:${me(request).userId}`, request.body?.note ?? null),
      ),
  );

  app.post(
    '/admin/incidents/:id/notes',
    {
      schema: {
        params: IdParams,
        body: Type.Object({ note: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false }),
        response: Responses,
      },
    },
    async (request) =>
      detailView(await incidents.note(request.params.id, `user:${me(request).userId}`, request.body.note)),
  );

  app.post(
    '/admin/incidents/:id/resolve',
    {
      schema: {
        params: IdParams,
        body: Type.Union([
          Type.Object(
            { note: Type.Optional(Type.String({ maxLength: 500 })), revert: Type.Optional(Type.Boolean()) },
            { additionalProperties: false },
          ),
          Type.Null(),
        ]),
        response: Responses,
      },
    },
    async (request) =>
      detailView(
        await incidents.resolve(
          request.params.id,
          `user:${me(request).userId}`,
          request.body?.note ?? null,
          request.body?.revert === true,
        ),
      ),
  );
};
export default adminIncidents;

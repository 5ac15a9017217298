import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { Clawd402Error } from '@clawd402/protocol';
import { withErrors } from '../schemas.ts';
import { PageLimit, givenFilters, limitOr } from '../list-query.ts';
import { AuditRecordSchema, DateTimeQuery, SegmentSchema, auditRecordView, segmentView } from './audit-view.ts';

const AuditPage = Type.Object(
  {
    items: Type.Array(AuditRecordSchema),
    /** Pass as `before` for the next (older) page; null on the last page. */
    nextBefore: Type.Union([Type.Integer(), Type.Null()]),
    segment: SegmentSchema,
  },
  { additionalProperties: false },
);

/**
 * GET /admin/audit: the audit log, newest first, filtered by subject (exact, or a prefix ending in `:`), action,
 * actor and time; keyset-paginated on seq. Every page carries the verification of the chain segment it lies in
 * (docs/audit.md, docs/incidents.md).
 */
const adminAudit: FastifyPluginAsyncTypebox = async (app) => {
  const { audit } = app.services;
  app.get(
    '/admin/audit',
    {
      schema: {
        querystring: Type.Object(
          {
            subject: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            since: Type.Optional(DateTimeQuery),
            until: Type.Optional(DateTimeQuery),
            before: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,15}$' })),
            limit: Type.Optional(PageLimit),
          },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: AuditPage }),
      },
    },
    async (request) => {
      const q = request.query;
      const limit = limitOr(q.limit, 50);
      const prefix = q.subject?.endsWith(':') ? q.subject : undefined;
      const page = await audit.list({
        ...(q.subject && !prefix ? { subject: q.subject } : {}),
        ...(prefix ? { subjectPrefix: prefix } : {}),
        ...givenFilters(q, ['action', 'actor']),
        ...timeWindow(q),
        ...(q.before ? { beforeSeq: Number(q.before) } : {}),
        limit,
      });
      const last = page.items[page.items.length - 1];
      return {
        items: page.items.map(auditRecordView),
        nextBefore: page.items.length === limit && last ? last.seq : null,
        segment: segmentView(page.segment),
      };
    },
  );
};
export default adminAudit;

/** `?since=` and `?until=` as dates, each only when the query gave it. */
export function timeWindow(query: { since?: string; until?: string }): { since?: Date; until?: Date } {
  return {
    ...(query.since ? { since: parseTime(query.since) } : {}),
    ...(query.until ? { until: parseTime(query.until) } : {}),
  };
}

/** An ISO 8601 date-time from a query string (the schema checked its form). */
function parseTime(text: string): Date {
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw new Clawd402Error('invalid_request', `Not a date-time: ${text.slice(0, 40)}`);
  return at;
}

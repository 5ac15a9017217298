import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AnyJson, iso, withErrors } from '../schemas.ts';
import { me } from '../acting-user.ts';

const JobParams = Type.Object({ name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}$' }) });
const ListQuery = Type.Object(
  { runs: Type.Optional(Type.String({ pattern: '^[1-9][0-9]?$' })) },
  { additionalProperties: false },
);

/**
 * /admin/jobs: the scheduled jobs (docs/jobs.md) — schedule, next occurrence, who holds the lease, and the latest runs
 * with their outcome and figures — and `POST /admin/jobs/:name/run` to run one now (on the first free replica).
 */
const adminJobs: FastifyPluginAsyncTypebox = async (app) => {
  const { jobs } = app.services;

  app.get(
    '/admin/jobs',
    {
      schema: { querystring: ListQuery, response: withErrors({ 200: AnyJson }) },
    },
    async (request) => ({
      items: (await jobs.list(Number(request.query.runs ?? 10))).map((j) => ({
        name: j.name,
        schedule: j.schedule,
        nextOccurrence: iso(j.occurrenceAt),
        nextRunAt: iso(j.nextRunAt),
        attempts: j.attempts,
        maxAttempts: j.maxAttempts,
        runRequestedAt: iso(j.requestedAt),
        lease: j.leaseOwner ? { runner: j.leaseOwner, until: iso(j.leaseUntil) } : null,
        runs: j.runs.map((r) => ({
          id: r.id,
          trigger: r.trigger,
          scheduledFor: iso(r.scheduledFor),
          attempt: r.attempt,
          runner: r.runner,
          startedAt: iso(r.startedAt),
          finishedAt: iso(r.finishedAt),
          outcome: r.outcome,
          detail: r.detail,
          error: r.error,
        })),
      })),
    }),
  );

  app.post(
    '/admin/jobs/:name/run',
    {
      schema: { params: JobParams, response: withErrors({ 202: AnyJson }) },
    },
    async (request, reply) => {
      const requested = await jobs.requestRun(me(request), request.params.name);
      return reply.code(202).send({ job: requested.job, requestedAt: requested.requestedAt.toISOString() });
    },
  );
};
export default adminJobs;

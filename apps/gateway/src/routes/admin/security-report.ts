import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AnyJson, withErrors } from '../schemas.ts';

/** GET /admin/security-report: the latest weekly security report (docs/security-status.md). */
const adminSecurityReport: FastifyPluginAsyncTypebox = async (app) => {
  const { securityReport } = app.services;
  app.get(
    '/admin/security-report',
    {
      schema: { response: withErrors({ 200: AnyJson }) },
    },
    async () => {
      const latest = await securityReport.latest();
      return { ...latest, occurrence: latest.occurrence.toISOString(), madeAt: latest.madeAt.toISOString() };
    },
  );
};
export default adminSecurityReport;

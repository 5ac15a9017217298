import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AnyJson, withErrors } from '../schemas.ts';

const Responses = withErrors({ 200: AnyJson });

/**
 * GET /admin/security-status: the hardening baseline scored item by item; GET /admin/security-report: the latest
 * weekly security report (docs/security-status.md).
 */
const adminSecurity: FastifyPluginAsyncTypebox = async (app) => {
  const { securityStatus, securityReport } = app.services;
  app.get('/admin/security-status', { schema: { response: Responses } }, async () => {
    const status = await securityStatus.status();
    return { ...status, generatedAt: status.generatedAt.toISOString() };
  });
  app.get('/admin/security-report', { schema: { response: Responses } }, async () => {
    const latest = await securityReport.latest();
    return { ...latest, occurrence: latest.occurrence.toISOString(), madeAt: latest.madeAt.toISOString() };
  });
};
export default adminSecurity;

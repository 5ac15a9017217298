import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AnyJson, withErrors } from '../schemas.ts';

/** GET /admin/security-status: the hardening baseline scored item by item (docs/security-status.md). */
const adminSecurityStatus: FastifyPluginAsyncTypebox = async (app) => {
  const { securityStatus } = app.services;
  app.get(
    '/admin/security-status',
    {
      schema: { response: withErrors({ 200: AnyJson }) },
    },
    async () => {
      const status = await securityStatus.status();
      return { ...status, generatedAt: status.generatedAt.toISOString() };
    },
  );
};
export default adminSecurityStatus;

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AnyJson, IdParams, withErrors } from '../schemas.ts';
import { me } from '../acting-user.ts';

/**
 * Erasure (docs/privacy.md): `DELETE /admin/users/:id/personal-data` destroys the user's personal-data key and
 * pseudonymises what lies outside the audit chain; `DELETE /admin/agents/:id/personal-data` clears an agent's memos.
 * Both answer the rows changed; the audit chain keeps verifying.
 */
const adminPersonalData: FastifyPluginAsyncTypebox = async (app) => {
  const { personalData } = app.services;
  app.delete(
    '/admin/users/:id/personal-data',
    {
      schema: { params: IdParams, response: withErrors({ 200: AnyJson }) },
    },
    async (request) => ({ erased: await personalData.eraseUser(me(request), request.params.id) }),
  );
  app.delete(
    '/admin/agents/:id/personal-data',
    {
      schema: { params: IdParams, response: withErrors({ 200: AnyJson }) },
    },
    async (request) => ({ erased: await personalData.eraseAgentMemos(me(request), request.params.id) }),
  );
};
export default adminPersonalData;

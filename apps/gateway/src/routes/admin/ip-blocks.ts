import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { logEvent } from '@clawd402/protocol';
import type { IpBlock } from '../../services/ip-blocks-service.ts';
import { me } from '../acting-user.ts';
import { withErrors } from '../schemas.ts';
import { PageLimit, limitOr } from '../list-query.ts';

const IpBlockView = Type.Object(
  { ip: Type.String(), blockedAt: Type.String(), until: Type.String(), reason: Type.String() },
  { additionalProperties: false },
);

const view = (b: IpBlock) => ({
  ip: b.ip,
  blockedAt: b.blockedAt.toISOString(),
  until: b.until.toISOString(),
  reason: b.reason,
});

/** /admin/ip-blocks: addresses blocked after failed logins, listed and lifted (audited). `:id` is the address. */
const adminIpBlocks: FastifyPluginAsyncTypebox = async (app) => {
  const { ipBlocks } = app.services;

  app.get(
    '/admin/ip-blocks',
    {
      schema: {
        querystring: Type.Object({ limit: Type.Optional(PageLimit) }, { additionalProperties: false }),
        response: withErrors({ 200: Type.Object({ items: Type.Array(IpBlockView) }, { additionalProperties: false }) }),
      },
    },
    async (request) => ({
      items: (await ipBlocks.list(limitOr(request.query.limit, 100))).map(view),
    }),
  );

  app.delete(
    '/admin/ip-blocks/:id',
    {
      schema: {
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Fa-f.:]+$' }) }),
        response: withErrors({ 200: IpBlockView }),
      },
    },
    async (request) => {
      const { userId } = me(request);
      const lifted = await ipBlocks.lift(request.params.id, `user:${userId}`);
      logEvent(request.log, 'auth.ip_unblocked', { ip: request.params.id, userId });
      return view(lifted);
    },
  );
};
export default adminIpBlocks;

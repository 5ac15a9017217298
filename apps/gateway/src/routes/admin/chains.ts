import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { withErrors } from '../schemas.ts';

const EndpointView = Type.Object(
  {
    /** `rpc #1`, `relay #2`: never the URL (it may hold credentials). */
    endpoint: Type.String(),
    healthy: Type.Boolean(),
    lastError: Type.Union([Type.String(), Type.Null()]),
    checkedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

/** GET /admin/chains: every configured chain with the health of its RPC endpoints and private relays. */
const adminChains: FastifyPluginAsyncTypebox = async (app) => {
  const { chains } = app.services;
  app.get(
    '/admin/chains',
    {
      schema: {
        response: withErrors({
          200: Type.Object(
            {
              items: Type.Array(
                Type.Object(
                  {
                    chainId: Type.Integer(),
                    /** The endpoint calls go to first (the first healthy one), or null when none is healthy. */
                    serving: Type.Union([Type.String(), Type.Null()]),
                    rpc: Type.Array(EndpointView),
                    relay: Type.Array(EndpointView),
                  },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async () => ({
      items: chains.health().map((c) => ({ ...c, serving: c.rpc.find((e) => e.healthy)?.endpoint ?? null })),
    }),
  );
};
export default adminChains;

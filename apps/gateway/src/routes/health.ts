import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';

/** Liveness probe: public, minimal, and touches nothing (a probe must not load the database). */
const health: FastifyPluginAsync = async (app) => {
  app.get(
    '/health',
    {
      config: { rateLimit: false },
      schema: {
        response: {
          200: Type.Object({ status: Type.Literal('ok'), timestamp: Type.String() }, { additionalProperties: false }),
        },
      },
    },
    async () => ({ status: 'ok' as const, timestamp: new Date().toISOString() }),
  );
};
export default health;

import type { FastifyPluginAsync } from 'fastify';

/**
 * GET /metrics: the gateway's Prometheus metrics in the text exposition format, for owners and admins
 * (`metrics:read`). Rate limited like any other route; the counts carry no addresses or key ids.
 */
const metricsRoutes: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.get(
    '/metrics',
    {
      schema: { response: { 200: { type: 'string', description: 'Prometheus text exposition format' } } },
    },
    async (_request, reply) => {
      const text = await app.metrics.registry.metrics();
      return reply.type(app.metrics.registry.contentType).send(text);
    },
  );
};
export default metricsRoutes;

import fp from 'fastify-plugin';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The gateway's Prometheus metrics (prom-client), one registry per app instance so that several apps in one process
 * (tests) never share counts. Served as text at `GET /metrics` (routes/metrics.ts, permission `metrics:read`).
 * Labels never carry addresses, key ids or anything else with unbounded cardinality.
 */
export interface Metrics {
  registry: Registry;
  /** Rate-limit store operations that failed (Redis down or slow); each one let a request through (fail open). */
  rateLimitStoreErrors: Counter;
  /** Requests refused with 429, by limiter scope (`ip`, `principal`, `route`) and error code. */
  rateLimitRefusals: Counter<'scope' | 'code'>;
  /** Progressive blocks imposed, by tier (`short`: 5 minutes, `long`: 1 hour). */
  rateLimitBlocks: Counter<'tier'>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'clawd402_' });
  return {
    registry,
    rateLimitStoreErrors: new Counter({
      name: 'clawd402_rate_limit_store_errors_total',
      help: 'Rate-limit store operations that failed; the request was let through (rate limits fail open).',
      registers: [registry],
    }),
    rateLimitRefusals: new Counter({
      name: 'clawd402_rate_limit_refusals_total',
      help: 'Requests refused with 429 by a rate limiter or a progressive block.',
      labelNames: ['scope', 'code'] as const,
      registers: [registry],
    }),
    rateLimitBlocks: new Counter({
      name: 'clawd402_rate_limit_blocks_total',
      help: 'Progressive blocks imposed on a client after repeated rate-limit hits.',
      labelNames: ['tier'] as const,
      registers: [registry],
    }),
  };
}

/** Decorates `app.metrics`. Register before any plugin that counts something. */
export default fp(
  async (app) => {
    app.decorate('metrics', createMetrics());
  },
  { name: 'metrics' },
);

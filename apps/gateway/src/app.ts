import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import helmet from '@fastify/helmet';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Redis } from 'ioredis';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type pg from 'pg';
import { loadPolicySet, type PolicySet } from '@clawd402/policy';
import { Clawd402Error } from '@clawd402/protocol';
import { SignerClient, TicketIssuer, loadTicketPrivateKey } from '@clawd402/signer-client';
import type { GatewayConfig } from './config.ts';
import { ChainRegistry } from './chain/chain-registry.ts';
import { ReceiptTracker } from './chain/tracker.ts';
import { createPool, withTransaction } from './db/pool.ts';
import { appendAudit } from './repositories/audit-repository.ts';
import { endSessionsOnKeyRotation } from './repositories/sessions-repository.ts';
import { migrate } from './db/migrate.ts';
import { IntentPipeline } from './pipeline/intent-pipeline.ts';
import authPlugin from './plugins/app/auth.ts';
import errorsPlugin from './plugins/app/errors.ts';
import healthRoutes from './routes/health.ts';
import tokenRoutes from './routes/auth/token.ts';
import sessionRoutes from './routes/auth/sessions.ts';
import adminRoutes from './routes/admin/index.ts';
import intentRoutes from './routes/v1/intents.ts';
import wellKnownRoutes from './routes/well-known.ts';
import { TokenService } from './security/tokens.ts';
import { SecretBox } from './security/secret-box.ts';

const TLS_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  // TLS 1.3 suites are AES-GCM or ChaCha20; Node configures them separately and all of them are ECDHE.
].join(':');

/** Everything a request handler may use, built once per app. */
export interface Services {
  config: GatewayConfig;
  pool: pg.Pool;
  redis: Redis | null;
  chains: ChainRegistry;
  policy: () => PolicySet;
  signer: SignerClient;
  tokens: TokenService;
  pipeline: IntentPipeline;
  tracker: ReceiptTracker;
  /** Seals TOTP secrets; null when SECRETS_KEY_FILE is not configured (TOTP enrolment then answers totp_unavailable). */
  secrets: SecretBox | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export interface BuildOptions {
  /** Fastify logger options; defaults to pino at config.logLevel with secrets redacted. */
  logger?: FastifyServerOptions['logger'];
  /** Start the receipt tracker (default true). */
  tracker?: boolean;
}

// Strict validation: no type coercion, no silently dropped fields, discriminated unions reported per variant.
function createAjv(): Ajv {
  const ajv = new Ajv({ removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false, discriminator: true, strict: false });
  addFormats.default(ajv);
  return ajv;
}

/**
 * Build the gateway: plugins, then app services, then routes. Does not listen (server.ts does); tests use
 * `inject` or listen on port 0. Fails at build time on an invalid policy set, an unreachable database or a route
 * without a declared permission.
 */
export async function buildApp(config: GatewayConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  const policySet = loadPolicySet(config.policyText);
  const app = Fastify({
    // Native TLS when configured: TLS 1.2+ with ECDHE key exchange and AES-GCM only.
    ...(config.tls
      ? {
          https: {
            cert: config.tls.cert,
            key: config.tls.key,
            minVersion: 'TLSv1.2' as const,
            ciphers: TLS_CIPHERS,
            honorCipherOrder: true,
            maxHeaderSize: 32 * 1024,
          },
        }
      : {}),
    logger: options.logger ?? {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'body.apiKey', '*.apiKey', '*.password'], censor: '[redacted]' },
    },
    bodyLimit: 16 * 1024,
    requestTimeout: 30_000,
    // Node's default 16 KiB header limit would answer an oversized token with a bare 431; at 32 KiB the request
    // reaches the token service, which refuses any token over 4,096 characters with the catalogue's 401.
    http: { maxHeaderSize: 32 * 1024 },
    connectionTimeout: 10_000,
    keepAliveTimeout: 72_000,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // X-Forwarded-For is believed only from the proxies listed in TRUSTED_PROXIES; otherwise the peer is the client.
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    ajv: { customOptions: {} },
  });
  // JSON only: Fastify's built-in text/plain parser would let a string body reach validation as a 400.
  app.removeContentTypeParser('text/plain');
  app.server.headersTimeout = 10_000; // a client must send its headers within 10 s (slowloris)
  const ajv = createAjv();
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));

  const pool = createPool(config.databaseUrl, config.databasePoolMax);
  if (config.migrateOnStart) await migrate(pool);
  else await pool.query('SELECT 1');

  let redis: Redis | null = null;
  if (config.redisUrl) {
    // Fail fast when Redis is down so rate limiting fails open quickly instead of stalling requests.
    redis = new Redis(config.redisUrl, { connectTimeout: 500, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
    redis.on('error', (error: Error) => app.log.error({ err: { message: error.message } }, 'redis error; rate limits fail open'));
  }

  const chains = new ChainRegistry(config.chains);
  const signer = new SignerClient({ socketPath: config.signerSocket, timeoutMs: 10_000, connections: 4 });
  const tickets = new TicketIssuer({ privateKey: loadTicketPrivateKey(config.ticketPrivateKeyPem), keyId: 'gateway-1' });
  const tokens = new TokenService({
    privateKeyPem: config.jwtPrivateKeyPem,
    previousPublicKeyPems: config.jwtPreviousPublicKeyPems,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    expirySeconds: config.jwtExpirySeconds,
  });
  // A new access-token signing key ends every session issued under the old one (once, whichever replica boots first).
  const rotation = await withTransaction(pool, async (client) => {
    const result = await endSessionsOnKeyRotation(client, tokens.keyId);
    if (result.rotated) {
      await appendAudit(client, { actor: 'system:gateway', action: 'auth.signing_key_rotated', subject: null, data: { kid: tokens.keyId, sessionsEnded: result.ended } });
    }
    return result;
  });
  const policy = (): PolicySet => policySet;
  const pipeline = new IntentPipeline({ pool, chains, policy, signer, tickets, log: app.log });
  const tracker = new ReceiptTracker({ pool, chains, pipeline, log: app.log }, config.trackerIntervalMs);
  const secrets = config.secretsKey ? new SecretBox(config.secretsKey) : null;
  if (rotation.rotated) app.log.warn({ sessionsEnded: rotation.ended }, 'access-token signing key changed: every session ended');
  app.decorate('services', { config, pool, redis, chains, policy, signer, tokens, pipeline, tracker, secrets });

  // External plugins first: headers on every response (errors included), CORS, rate limits.
  await app.register(helmet, {
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"] }, useDefaults: false },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
    hsts: config.tls ? { maxAge: 31_536_000, includeSubDomains: true, preload: true } : false,
    crossOriginEmbedderPolicy: false,
    xXssProtection: true,
  });
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=()');
  });
  await app.register(cors, {
    methods: config.allowedMethods,
    allowedHeaders: config.allowedHeaders,
    credentials: false,
    origin: (origin, callback) => {
      if (!origin) return callback(null, false);
      const allowed = config.allowedOrigins.includes(origin);
      if (!allowed) app.log.info({ origin }, 'CORS origin not allowed');
      callback(null, allowed);
    },
  });
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimitIpPerMin,
    timeWindow: 60_000,
    ...(redis ? { redis, nameSpace: 'clawd402:rl:ip:' } : {}),
    skipOnError: true, // fail open: a Redis outage must not stop agents; spend limits live in Postgres
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: () => new Clawd402Error('rate_limited'),
  });

  await app.register(cookie);

  // OpenAPI at /docs, outside production only. Its routes are public by declaration, so they pass the
  // every-route-declares-access rule (and appear in the route walk) like any other.
  if (config.env !== 'production') {
    app.addHook('onRoute', (route) => {
      if (route.url === '/docs' || route.url.startsWith('/docs/')) route.config = { ...(route.config as object), permission: 'public' };
    });
    await app.register(swagger, {
      openapi: {
        info: { title: 'Clawd402 gateway', version: '0.1.0', description: 'Agents submit intents; operators administer. Error codes: docs/errors.md.' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        security: [{ bearer: [] }],
      },
    });
  }

  // App plugins, then routes.
  await app.register(errorsPlugin);
  await app.register(authPlugin, { tokens });
  if (config.env !== 'production') await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  await app.register(healthRoutes);
  await app.register(tokenRoutes);
  await app.register(sessionRoutes);
  await app.register(adminRoutes);
  await app.register(intentRoutes);
  await app.register(wellKnownRoutes);

  if (options.tracker !== false) app.addHook('onReady', async () => tracker.start());
  app.addHook('onClose', async () => {
    // Intents already being processed finish (or fail closed) before the signer and the pool go away.
    await pipeline.drain();
    await tracker.stop();
    signer.close();
    redis?.disconnect();
    await pool.end();
  });
  return app;
}

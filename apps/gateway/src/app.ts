import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import helmet from '@fastify/helmet';
import cors from '@fastify/cors';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Redis } from 'ioredis';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type pg from 'pg';
import type { PolicySet } from '@clawd402/policy';
import { SignerClient, TicketIssuer, loadTicketPrivateKey } from '@clawd402/signer-client';
import type { GatewayConfig } from './config.ts';
import { ChainRegistry } from './chain/chain-registry.ts';
import { Submission } from './chain/submission.ts';
import { NonceReconciler } from './chain/reconciler.ts';
import { ReceiptTracker } from './chain/tracker.ts';
import { NotificationDispatcher } from './notifications/dispatcher.ts';
import { createPool, withTransaction } from './db/pool.ts';
import { appendAudit } from './repositories/audit-repository.ts';
import { endSessionsOnKeyRotation } from './repositories/sessions-repository.ts';
import { migrate } from './db/migrate.ts';
import { VerifiedContracts } from './chain/verified-contracts.ts';
import { PriceBook } from './money/price-book.ts';
import { provisionBreakerChannels } from './money/breaker-channels.ts';
import { ApprovalService } from './approvals/approval-service.ts';
import type { MoneySettings } from './pipeline/decision-lanes.ts';
import { seedAsset } from './repositories/assets-repository.ts';
import { IntentPipeline } from './pipeline/intent-pipeline.ts';
import { ChainFacts } from './pipeline/chain-facts.ts';
import { Simulator } from './chain/simulator.ts';
import { SwapPlanner } from './swaps/swap-planner.ts';
import { DeadlineSweeper } from './swaps/deadline-sweeper.ts';
import { PolicyStore } from './policy/policy-store.ts';
import authPlugin from './plugins/app/auth.ts';
import rateLimitPlugin from './plugins/app/rate-limit.ts';
import metricsPlugin from './metrics.ts';
import metricsRoutes from './routes/metrics.ts';
import errorsPlugin from './plugins/app/errors.ts';
import healthRoutes from './routes/health.ts';
import tokenRoutes from './routes/auth/token.ts';
import sessionRoutes from './routes/auth/sessions.ts';
import adminRoutes from './routes/admin/index.ts';
import intentRoutes from './routes/v1/intents.ts';
import intentActionRoutes from './routes/v1/intent-actions.ts';
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
  /** Policy versions in Postgres: the active set in memory, following activations on every process. */
  policyStore: PolicyStore;
  signer: SignerClient;
  tokens: TokenService;
  pipeline: IntentPipeline;
  tracker: ReceiptTracker;
  /** Cancellation, speed-up and rebroadcast of intents' transactions (docs/submission.md). */
  submission: Submission;
  /** Seals TOTP secrets; null when SECRETS_KEY_FILE is not configured (TOTP enrolment then answers totp_unavailable). */
  secrets: SecretBox | null;
  /** Delivers the notification outbox (docs/notifications.md); the admin test endpoint sends through it. */
  notifications: NotificationDispatcher;
  /** USD prices from the asset registry (Postgres), re-read at most once a second. */
  prices: PriceBook;
  /** The verified-contract registry behind the `contract_verified` policy fact. */
  verifiedContracts: VerifiedContracts;
  /** Human approvals: votes, quorum, escalation and expiry. */
  approvals: ApprovalService;
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
  /** Clock for rate limits and blocks, epoch milliseconds (default Date.now); tests move time with it. */
  clock?: () => number;
  /** Start the notification dispatcher (default true). */
  notifications?: boolean;
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
    // A socket may sit silent while its response is computed: long-polls (GET /v1/intents/:id?wait=, up to 60 s) and
    // intents queued behind a busy signing lane. Slow senders are cut off by headersTimeout and requestTimeout.
    connectionTimeout: 75_000,
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

  const chains = new ChainRegistry(config.chains, {
    privateRelayMinValueUsd: config.submission.privateRelayMinValueUsd,
    healthIntervalMs: config.submission.healthIntervalMs,
    log: app.log,
  });
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
  // The active policy version from Postgres (the configured POLICY_FILE is imported as the first version if none is).
  // The embedded default is one process on PGlite, which has no cross-connection LISTEN: the 1 s poll suffices there.
  const policyStore = await PolicyStore.open({
    pool,
    databaseUrl: config.databaseUrl,
    log: app.log,
    configured: { text: config.policyText, source: config.policySource },
    lint: { production: config.env === 'production' },
    listen: config.mode !== 'embedded',
  });
  const policy = (): PolicySet => policyStore.current();
  const prices = new PriceBook({ pool, chains });
  const verifiedContracts = new VerifiedContracts(pool);
  if (config.money.devNativePriceUsd !== null) {
    // Outside production, each chain's native coin gets a static price unless the registry already has one.
    for (const chainId of chains.chainIds) {
      await seedAsset(pool, { chainId, asset: 'native', symbol: 'ETH', decimals: 18, priceSource: { kind: 'static', usd: config.money.devNativePriceUsd, maxAgeSeconds: null } });
    }
  }
  const alertChannels = await provisionBreakerChannels(pool, config, config.secretsKey ? new SecretBox(config.secretsKey) : null, {
    production: config.env === 'production',
    allowPrivateAddresses: config.notifications.allowPrivateAddresses,
  });
  const money: MoneySettings = {
    breaker: config.money.breaker,
    hardAllowlist: config.money.hardAllowlist,
    hardCapMicros: config.money.hardCapMicros,
    softApproval: {
      notification: { channels: config.money.softApprovalChannels, timeoutSeconds: config.money.softApprovalTimeoutSeconds },
      quorum: { required: 1, excludeAgentOwner: false },
    },
    alertChannels,
  };
  // Decoding, simulation and swaps before the decision (docs/simulation.md, docs/swaps.md).
  const swaps = new SwapPlanner({ chains, prices, settings: config.swaps });
  const chainFacts = new ChainFacts({ pool, chains, prices, verifiedContracts, simulator: new Simulator(chains), policy, settings: config.simulation });
  if (!config.simulation.enabled) app.log.warn('SIMULATION=off: transactions are signed without being simulated first');
  const pipeline = new IntentPipeline({ pool, chains, policy, signer, tickets, prices, verifiedContracts, money, hygiene: config.hygiene, chainFacts, swaps, log: app.log });
  const deadlines = new DeadlineSweeper({ pool, log: app.log }, config.trackerIntervalMs);
  const submission = new Submission({ pool, chains, tickets, signer, log: app.log, settings: config.submission });
  const reconciler = new NonceReconciler({ pool, chains, submission, log: app.log }, config.submission);
  const tracker = new ReceiptTracker({ pool, chains, pipeline, log: app.log, reconciler }, config.trackerIntervalMs);
  const approvals = new ApprovalService({ pool, pipeline, log: app.log });
  const secrets = config.secretsKey ? new SecretBox(config.secretsKey) : null;
  const notifications = new NotificationDispatcher({
    pool,
    secrets,
    log: app.log,
    settings: { ...config.notifications, production: config.env === 'production', consoleBaseUrl: config.consoleBaseUrl },
    // PGlite (the embedded default) serves one connection and no cross-connection NOTIFY: the timer suffices there.
    listenUrl: config.mode === 'embedded' ? null : config.databaseUrl,
  });
  if (rotation.rotated) app.log.warn({ sessionsEnded: rotation.ended }, 'access-token signing key changed: every session ended');
  app.decorate('services', { config, pool, redis, chains, policy, policyStore, signer, tokens, pipeline, tracker, submission, secrets, prices, verifiedContracts, notifications, approvals });

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
  // Rate limits per address, principal and route class, with progressive blocks (docs/rate-limits.md). Fails open.
  await app.register(metricsPlugin);
  await app.register(rateLimitPlugin, { clock: options.clock });

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
  await app.register(intentActionRoutes);
  await app.register(wellKnownRoutes);
  await app.register(metricsRoutes);

  if (options.tracker !== false) app.addHook('onReady', async () => tracker.start());
  app.addHook('onReady', async () => chains.start()); // RPC endpoint health checks (failover order)
  // The approval clock (escalation, expiry, resuming approved intents) runs with the tracker; tests drive sweep().
  if (options.tracker !== false) app.addHook('onReady', async () => approvals.start());
  if (options.tracker !== false) app.addHook('onReady', async () => deadlines.start());
  if (options.notifications !== false) app.addHook('onReady', async () => notifications.start());
  app.addHook('onReady', async () => policyStore.start());
  app.addHook('onClose', async () => {
    // Intents already being processed finish (or fail closed) before the signer and the pool go away.
    await approvals.stop();
    await deadlines.stop();
    await pipeline.drain();
    await tracker.stop();
    chains.stop();
    await notifications.stop();
    await policyStore.stop();
    signer.close();
    redis?.disconnect();
    await pool.end();
  });
  return app;
}

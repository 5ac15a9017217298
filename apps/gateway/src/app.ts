import { setMaxListeners } from 'node:events';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import helmet from '@fastify/helmet';
import cors from '@fastify/cors';
import cookie from '@fastify/cookie';
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
import { ReceiptTracker } from './intent-path/12-track.ts';
import { NotificationDispatcher } from './notifications/dispatcher.ts';
import { createPool, pingDatabase } from './db/pool.ts';
import { loggerOptions } from './logging/logger-options.ts';
import { logEvent } from '@clawd402/protocol';
import { listAgentSignerAddresses } from './repositories/agents-repository.ts';
import { migrate } from './db/migrate.ts';
import { VerifiedContracts } from './chain/verified-contracts.ts';
import { PriceBook } from './money/price-book.ts';
import { provisionBreakerChannels } from './money/breaker-channels.ts';
import { ApprovalService } from './approvals/approval-service.ts';
import type { MoneySettings } from './intent-path/07-decide.ts';
import { seedAsset } from './repositories/assets-repository.ts';
import { X402Settlement } from './intent-path/x402-settlement.ts';
import { IntentPath } from './intent-path/intent-path.ts';
import { Simulator } from './chain/simulator.ts';
import { SwapPlanner } from './swaps/swap-planner.ts';
import { DeadlineSweeper } from './swaps/deadline-sweeper.ts';
import { PolicyStore } from './policy/policy-store.ts';
import { gatewayWorkers } from './workers/gateway-workers.ts';
import type { WorkerSet } from './workers/worker-set.ts';
import authPlugin from './plugins/app/auth.ts';
import rateLimitPlugin from './plugins/app/rate-limit.ts';
import metricsPlugin, { createMetrics } from './metrics.ts';
import { readMetricsSnapshot } from './repositories/metrics-repository.ts';
import { JobRunner } from './jobs/job-runner.ts';
import { retentionJob } from './jobs/retention.ts';
import { auditVerificationJob } from './jobs/audit-verification.ts';
import { backupJob } from './jobs/backup.ts';
import { keyAgeJob, publicKeyFingerprint } from './jobs/key-age.ts';
import { securityReportJob } from './jobs/security-report.ts';
import { recordKeyInUse } from './repositories/key-ages-repository.ts';
import { JobsService } from './services/jobs-service.ts';
import { SecurityStatusService } from './services/security-status-service.ts';
import { SecurityReportService } from './services/security-report-service.ts';
import { PersonalDataService } from './services/personal-data-service.ts';
import metricsRoutes from './routes/metrics.ts';
import errorsPlugin, { clientErrorHandler } from './plugins/app/errors.ts';
import jsonBodyPlugin from './plugins/app/json-body.ts';
import { buildSharedSerializer } from './plugins/app/shared-serializers.ts';
import healthRoutes from './routes/health.ts';
import tokenRoutes from './routes/auth/token.ts';
import sessionRoutes from './routes/auth/sessions.ts';
import adminRoutes from './routes/admin/index.ts';
import intentRoutes from './routes/v1/intents.ts';
import rpcRoutes from './routes/rpc.ts';
import mcpRoutes from './routes/mcp/mcp.ts';
import intentActionRoutes from './routes/v1/intent-actions.ts';
import intentEventRoutes from './routes/v1/intent-events.ts';
import budgetRoutes from './routes/v1/budget.ts';
import wellKnownRoutes from './routes/well-known.ts';
import consoleRoutes from './routes/console.ts';
import { DOCS_ROUTE_PERMISSIONS, ROUTE_PERMISSIONS, type RouteKey } from './routes/route-permissions.ts';
import type { RouteAccess } from './security/rbac.ts';
import { TokenService } from './security/tokens.ts';
import { AgentsService } from './services/agents-service.ts';
import { AlertsService } from './services/alerts-service.ts';
import { AlertRouter, AlertWatch } from './alerts/index.ts';
import { IncidentWatch } from './incidents/incident-watch.ts';
import { IncidentsService } from './services/incidents-service.ts';
import { AuditService } from './services/audit-service.ts';
import { IpBlocksService } from './services/ip-blocks-service.ts';
import { ApprovalQueueService } from './services/approval-queue-service.ts';
import { AuthService } from './services/auth-service.ts';
import { CostsService } from './services/costs-service.ts';
import { IntentsService } from './services/intents-service.ts';
import { KillSwitchService } from './services/killswitch-service.ts';
import { IntentWatcher } from './services/intent-watcher.ts';
import { NotificationChannelsService } from './services/notification-channels-service.ts';
import { PoliciesService } from './services/policies-service.ts';
import { RegistryService } from './services/registry-service.ts';
import { SessionsService } from './services/sessions-service.ts';
import { UsersService } from './services/users-service.ts';
import { JsonRpcService } from './services/json-rpc-service.ts';
import { SecretBox } from './security/secret-box.ts';
import { KnownAddresses } from './security/known-addresses.ts';

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
  /** The intent path (intent-path/): every agent surface submits through it. */
  pipeline: IntentPath;
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
  /** Commits x402 payments seen on chain and releases expired ones (the worker sweeps it; tests drive `sweep()`). */
  x402Settlement: X402Settlement;
  /** The background jobs (workers/gateway-workers.ts), started when the app is ready and stopped when it closes. */
  workers: WorkerSet;
  /** Aborted when the app starts closing: long-polls answer at once with the current state (graceful shutdown). */
  closing: AbortSignal;
  // What the routes and plugins call (src/services/): each owns its transactions and audit records, so routes hold
  // no SQL and open no transactions.
  /** API-key exchange and the per-request key and session re-checks (routes/auth/token.ts, plugins/app/auth.ts). */
  auth: AuthService;
  /** Login, refresh, TOTP, sessions, password change (routes/auth/sessions.ts). */
  sessions: SessionsService;
  /** Human users: create, change roles, disable (routes/admin/users.ts). */
  users: UsersService;
  /** Agents, their API keys and signer keys (routes/admin/agents.ts). */
  agents: AgentsService;
  /** Reading intents: an agent's own, any for operators, their transactions (routes/v1, routes/admin/intents.ts). */
  intents: IntentsService;
  /** Wakes requests waiting on intents (SSE, long-polls) from one LISTEN connection (docs/waiting.md). */
  watcher: IntentWatcher;
  /** The approvals queue operators list, read and vote on (routes/admin/approvals.ts). */
  approvalQueue: ApprovalQueueService;
  /** Spend, limits and breakers (routes/admin/costs.ts). */
  costs: CostsService;
  /** The asset and verified-contract registries (routes/admin/registry.ts). */
  registry: RegistryService;
  /** Notification channels and the outbox (routes/admin/notifications.ts). */
  notificationChannels: NotificationChannelsService;
  /** Policy versions: upload, activate, dry-run (routes/admin/policies.ts). */
  policies: PoliciesService;
  /** Alerts raised at the HTTP edge, e.g. rate-limit blocks (plugins/app/rate-limit.ts). */
  alerts: AlertsService;
  /** Ethereum JSON-RPC for agents: wallet methods as intents, allowlisted reads forwarded (routes/rpc.ts). */
  jsonRpc: JsonRpcService;
  /** The kill switch and pauses (routes/admin/killswitch.ts, docs/killswitch.md). */
  killSwitch: KillSwitchService;
  alertRouter: AlertRouter;
  alertWatch: AlertWatch;
  incidentWatch: IncidentWatch;
  incidents: IncidentsService;
  audit: AuditService;
  ipBlocks: IpBlocksService;
  /** Scheduled jobs: the listing and run-now of routes/admin/jobs.ts (docs/jobs.md). */
  jobs: JobsService;
  /** The hardening baseline scored from live configuration and state (routes/admin/security.ts). */
  securityStatus: SecurityStatusService;
  /** The latest weekly security report (routes/admin/security.ts). */
  securityReport: SecurityReportService;
  /** Personal data beside the audit chain and its erasure (docs/privacy.md). */
  personalData: PersonalDataService;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export interface BuildOptions {
  /**
   * Fastify logger options laid over the gateway's (logging/logger-options.ts: ISO timestamps, secrets redacted,
   * addresses masked per LOG_IP_MODE), e.g. a test's `{ level, stream }`; `false` turns logging off.
   */
  logger?: FastifyServerOptions['logger'];
  /** Start the receipt tracker, the approvals sweep and the deadline sweeper (default true); tests drive them instead. */
  tracker?: boolean;
  /** Clock for rate limits and blocks, epoch milliseconds (default Date.now); tests move time with it. */
  clock?: () => number;
  /** Start the notification dispatcher (default true). */
  notifications?: boolean;
  /**
   * Slow-sender limits (slowloris): headers must arrive within `headersMs` (default 10 s), the whole request within
   * `requestMs` (default 30 s); Node checks them every `checkIntervalMs` (default 1 s; Node's own default is 30 s,
   * which would let a slow sender hold a socket up to 30 s past its limit). Tests shorten them.
   */
  timeouts?: { headersMs?: number; requestMs?: number; checkIntervalMs?: number };
  /** Permissions of routes the caller adds itself before the app is ready (a test's own route), beside the table's. */
  routePermissions?: Partial<Record<RouteKey, RouteAccess>>;
}

// Strict validation: no type coercion, no silently dropped fields, discriminated unions reported per variant.
function createAjv(): Ajv {
  const ajv = new Ajv({
    removeAdditional: false,
    coerceTypes: false,
    useDefaults: false,
    allErrors: false,
    discriminator: true,
    strict: false,
  });
  addFormats.default(ajv);
  return ajv;
}

/**
 * Build the gateway: plugins, then app services, then routes. Does not listen (server.ts does); tests use
 * `inject` or listen on port 0. Fails at build time on an invalid policy set, an unreachable database or a route
 * missing from the route-permission table (routes/route-permissions.ts), and at ready on a table entry with no route.
 */
export async function buildApp(config: GatewayConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  const timeouts = { headersMs: 10_000, requestMs: 30_000, checkIntervalMs: 1_000, ...options.timeouts };
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
            connectionsCheckingInterval: timeouts.checkIntervalMs,
          },
        }
      : {}),
    // ISO timestamps, secrets redacted, client addresses masked per LOG_IP_MODE (docs/logging.md); a test's own
    // options (a stream, a level) are laid over these, never instead of them.
    logger:
      options.logger === false
        ? false
        : loggerOptions(
            config.logLevel,
            config.logIpMode,
            typeof options.logger === 'object' ? (options.logger as Record<string, unknown>) : {},
          ),
    // Unique across replicas, so a request id in the signer's log (docs/logging.md) names one request.
    genReqId: () => randomUUID(),
    bodyLimit: 16 * 1024,
    requestTimeout: timeouts.requestMs,
    // Node's default 16 KiB header limit would answer an oversized token with a bare 431; at 32 KiB the request
    // reaches the token service, which refuses any token over 4,096 characters with the catalogue's 401.
    http: { maxHeaderSize: 32 * 1024, connectionsCheckingInterval: timeouts.checkIntervalMs },
    // What Node's parser refuses (smuggling, slowloris, oversized headers) answers with the catalogue's code.
    clientErrorHandler,
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
    // One response serializer per schema object, shared by the routes that reply with it (shared-serializers.ts).
    schemaController: { compilersFactory: { buildSerializer: buildSharedSerializer } },
  });
  // JSON only: Fastify's built-in text/plain parser would let a string body reach validation as a 400.
  app.removeContentTypeParser('text/plain');
  app.server.headersTimeout = timeouts.headersMs; // a client must send its headers within 10 s (slowloris)
  const ajv = createAjv();
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));

  const pool = createPool(config.databaseUrl, config.databasePoolMax);
  if (config.migrateOnStart) await migrate(pool);
  else await pingDatabase(pool);

  let redis: Redis | null = null;
  if (config.redisUrl) {
    // Fail fast when Redis is down so rate limiting fails open quickly instead of stalling requests. Commands issued in
    // one turn of the event loop (the rate-limit checks of concurrent requests) go out in one write and one pipeline.
    redis = new Redis(config.redisUrl, {
      connectTimeout: 500,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      lazyConnect: false,
      enableAutoPipelining: true,
    });
    redis.on('error', (error: Error) => logEvent(app.log, 'system.redis_error', { err: { message: error.message } }));
  }

  // Prometheus metrics (metrics.ts): built first so that the services below can report into them.
  const metrics = createMetrics({ snapshot: () => readMetricsSnapshot(pool) });
  const chains = new ChainRegistry(config.chains, {
    privateRelayMinValueUsd: config.submission.privateRelayMinValueUsd,
    log: app.log,
    observe: metrics.observers.rpc,
  });
  const signer = new SignerClient({
    socketPath: config.signerSocket,
    timeoutMs: 10_000,
    connections: 4,
    observe: metrics.observers.signer,
  });
  const tickets = new TicketIssuer({
    privateKey: loadTicketPrivateKey(config.ticketPrivateKeyPem),
    keyId: 'gateway-1',
  });
  const tokens = new TokenService({
    privateKeyPem: config.jwtPrivateKeyPem,
    previousPublicKeyPems: config.jwtPreviousPublicKeyPems,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    expirySeconds: config.jwtExpirySeconds,
  });
  const secrets = config.secretsKey ? new SecretBox(config.secretsKey) : null;
  const sessions = new SessionsService({
    pool,
    tokens,
    secrets,
    settings: {
      absoluteSeconds: config.sessionAbsoluteSeconds,
      refreshSeconds: config.jwtRefreshExpirySeconds,
      issuer: config.jwtIssuer,
    },
  });
  // A new access-token signing key ends every session issued under the old one (once, whichever replica boots first).
  const rotation = await sessions.endSessionsOnSigningKeyChange(tokens.keyId);
  // The ticket key in use, by fingerprint: its age (the key-age job, the security status) counts from its first boot.
  await recordKeyInUse(pool, 'ticket_key_id', publicKeyFingerprint(config.ticketPrivateKeyPem));
  // The active policy version from Postgres (the configured POLICY_FILE is imported as the first version if none is).
  const policyStore = await PolicyStore.open({
    pool,
    log: app.log,
    configured: { text: config.policyText, source: config.policySource },
    lint: { production: config.env === 'production' },
  });
  const policy = (): PolicySet => policyStore.current();
  const prices = new PriceBook({ pool, chains });
  const verifiedContracts = new VerifiedContracts(pool);
  if (config.money.devNativePriceUsd !== null) {
    // Outside production, each chain's native coin gets a static price unless the registry already has one.
    for (const chainId of chains.chainIds) {
      await seedAsset(pool, {
        chainId,
        asset: 'native',
        symbol: 'ETH',
        decimals: 18,
        priceSource: { kind: 'static', usd: config.money.devNativePriceUsd, maxAgeSeconds: null },
      });
    }
  }
  const alertChannels = await provisionBreakerChannels(
    pool,
    config,
    config.secretsKey ? new SecretBox(config.secretsKey) : null,
    {
      production: config.env === 'production',
      allowPrivateAddresses: config.notifications.allowPrivateAddresses,
    },
  );
  const money: MoneySettings = {
    breaker: config.money.breaker,
    hardAllowlist: config.money.hardAllowlist,
    hardCapMicros: config.money.hardCapMicros,
    softApproval: {
      notification: {
        channels: config.money.softApprovalChannels,
        timeoutSeconds: config.money.softApprovalTimeoutSeconds,
      },
      quorum: { required: 1, excludeAgentOwner: false },
    },
    alertChannels,
  };
  // Decoding, simulation and swaps before the decision (docs/simulation.md, docs/swaps.md).
  const swaps = new SwapPlanner({ chains, prices, settings: config.swaps });
  if (!config.simulation.enabled) logEvent(app.log, 'system.simulation_off', {});
  // A memo holding the private key of one of these addresses is a leak (intent hygiene). Agents' signer addresses
  // from Postgres (a failed read refuses the intent), and the signer's keys when the signer answers.
  const knownAddresses = new KnownAddresses(async () => [
    ...(await listAgentSignerAddresses(pool)),
    ...(await signer.listKeys().then(
      (listing) => listing.keys.map((k) => k.address),
      () => [],
    )),
  ]);
  const submission = new Submission({ pool, chains, tickets, signer, log: app.log, settings: config.submission });
  const killSwitch = new KillSwitchService({
    pool,
    signer,
    chains,
    submission,
    stepUp: (user, code) => sessions.stepUp(user, code),
    log: app.log,
    settings: config.killSwitch,
  });
  await killSwitch.refresh(); // a process started while the switch is engaged refuses from its first request
  const pipeline = new IntentPath({
    pool,
    chains,
    policy,
    signer,
    tickets,
    prices,
    verifiedContracts,
    simulator: new Simulator(chains),
    simulation: config.simulation,
    swaps,
    money,
    x402: config.x402,
    hygiene: config.hygiene,
    knownAddresses,
    halts: killSwitch,
    log: app.log,
    observe: metrics.observers.intents,
  });
  const deadlines = new DeadlineSweeper({ pool, log: app.log });
  const reconciler = new NonceReconciler({ pool, chains, submission, log: app.log }, config.submission);
  const tracker = new ReceiptTracker({ pool, chains, log: app.log, reconciler });
  const approvals = new ApprovalService({ pool, pipeline });
  const notifications = new NotificationDispatcher({
    pool,
    secrets,
    log: app.log,
    settings: {
      ...config.notifications,
      production: config.env === 'production',
      consoleBaseUrl: config.consoleBaseUrl,
    },
  });
  const alertRouter = new AlertRouter({ pool, routing: config.alerts.routing, log: app.log });
  const alertWatch = new AlertWatch({
    pool,
    health: () => chains.health(),
    settings: { ...config.alerts.watch, dedupSeconds: config.alerts.routing.dedupSeconds },
    log: app.log,
  });
  const alerts = new AlertsService({ pool });
  const securityStatus = new SecurityStatusService({ pool, config, policy: () => policyStore.current(), signer });
  const haltsChanged = () => killSwitch.refresh();
  const incidentWatch = new IncidentWatch({ pool, settings: config.incidents.watch, log: app.log, haltsChanged });
  // Cluster-wide scheduled jobs (docs/jobs.md): registered by every replica, run where JOB_RUNNER=on.
  const jobRunner = new JobRunner({
    pool,
    log: app.log,
    leaseMs: config.jobs.leaseMs,
    retryBaseMs: config.jobs.retryBaseMs,
    onRun: metrics.observers.jobs,
    jobs: [
      retentionJob({ pool, settings: config.jobs.retention, schedule: config.jobs.retentionSchedule }),
      auditVerificationJob({ pool, signer, alerts, schedule: config.jobs.auditVerifySchedule }),
      backupJob({
        settings: { ...config.jobs.backup, command: config.jobs.backup.cli ? [config.jobs.backup.cli] : null },
        databaseUrl: config.databaseUrl,
        schedule: config.jobs.backupSchedule,
        env: process.env,
      }),
      keyAgeJob({ pool, signer, alerts, settings: config.jobs.keyAge, schedule: config.jobs.keyAgeSchedule }),
      securityReportJob({
        pool,
        signer,
        securityStatus,
        settings: { ...config.jobs.securityReport, keyAge: config.jobs.keyAge },
        schedule: config.jobs.securityReport.schedule,
      }),
    ],
  });
  await jobRunner.register();
  const x402Settlement = new X402Settlement({ pool, chains, log: app.log });
  const workers = gatewayWorkers(
    {
      log: app.log,
      chains,
      policyStore,
      tracker,
      approvals,
      deadlines,
      x402: x402Settlement,
      notifications,
      halts: killSwitch,
      alertRouter,
      alertWatch,
      incidentWatch,
      jobs: config.jobs.runner ? { runner: jobRunner, intervalMs: config.jobs.pollIntervalMs } : null,
    },
    {
      trackerIntervalMs: config.trackerIntervalMs,
      healthIntervalMs: config.submission.healthIntervalMs,
      notifyIntervalMs: config.notifications.pollIntervalMs,
      // PGlite (the embedded default) serves one connection and no cross-connection NOTIFY: the timers suffice there.
      listenUrl: config.mode === 'embedded' ? null : config.databaseUrl,
      clocks: options.tracker !== false,
      notifications: options.notifications !== false,
      alertWatchIntervalMs: config.alerts.watchIntervalMs,
      incidentWatchIntervalMs: config.incidents.watchIntervalMs,
    },
  );
  const watcher = new IntentWatcher({
    pool,
    log: app.log,
    listenUrl: config.mode === 'embedded' ? null : config.databaseUrl,
  });
  const closing = new AbortController();
  setMaxListeners(0, closing.signal); // one listener per waiting long-poll, however many
  if (rotation.rotated) logEvent(app.log, 'auth.sessions_ended', { sessionsEnded: rotation.ended });
  app.decorate('services', {
    config,
    pool,
    redis,
    chains,
    policy,
    policyStore,
    signer,
    tokens,
    pipeline,
    tracker,
    submission,
    secrets,
    prices,
    verifiedContracts,
    notifications,
    approvals,
    x402Settlement,
    workers,
    closing: closing.signal,
    auth: new AuthService({ pool, tokens }),
    sessions,
    users: new UsersService({ pool }),
    agents: new AgentsService({ pool, signer, keyAge: config.jobs.keyAge }),
    intents: new IntentsService({ pool }),
    approvalQueue: new ApprovalQueueService({ pool, approvals }),
    costs: new CostsService({ pool, breakerDefaults: config.money.breaker, policy: () => policyStore.current() }),
    registry: new RegistryService({ pool, chains, prices, verifiedContracts }),
    notificationChannels: new NotificationChannelsService({
      pool,
      secrets,
      dispatcher: notifications,
      rules: {
        production: config.env === 'production',
        allowPrivateAddresses: config.notifications.allowPrivateAddresses,
      },
    }),
    policies: new PoliciesService({ pool, store: policyStore, chains, prices, verifiedContracts }),
    jsonRpc: new JsonRpcService({ pool, chains, pipeline, intents: new IntentsService({ pool }), log: app.log }),
    killSwitch,
    watcher,
    alertRouter,
    alertWatch,
    audit: new AuditService({ pool }),
    ipBlocks: new IpBlocksService({ pool }),
    alerts,
    incidentWatch,
    incidents: new IncidentsService({ pool, haltsChanged }),
    jobs: new JobsService({ pool, runner: jobRunner, wake: () => workers.get('job-runner')?.wake() }),
    securityStatus,
    securityReport: new SecurityReportService({ pool }),
    personalData: new PersonalDataService({ pool }),
  });

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
  await app.register(metricsPlugin, { metrics });
  await app.register(rateLimitPlugin, { clock: options.clock });

  await app.register(cookie);

  // OpenAPI at /docs, outside production only. Its routes are public by their entries in the route-permission
  // table (DOCS_ROUTE_PERMISSIONS), so they pass the every-route-has-access rule (and appear in the route walk).
  // Imported here, not at the top: a production gateway never loads either (a few MiB of memory).
  if (config.env !== 'production') {
    const { default: swagger } = await import('@fastify/swagger');
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'Clawd402 gateway',
          version: '0.1.0',
          description: 'Agents submit intents; operators administer. Error codes: docs/errors.md.',
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        security: [{ bearer: [] }],
      },
    });
  }

  // App plugins, then routes.
  await app.register(errorsPlugin);
  // Strict JSON bodies: duplicate member names, deep nesting and prototype keys refused with a code (json-body.ts).
  await app.register(jsonBodyPlugin);
  for (const key of Object.keys(options.routePermissions ?? {}))
    if (Object.hasOwn(ROUTE_PERMISSIONS, key)) throw new Error(`route ${key} is in the route-permission table already`);
  const routePermissions = {
    ...ROUTE_PERMISSIONS,
    ...(config.env !== 'production' ? DOCS_ROUTE_PERMISSIONS : {}),
    ...options.routePermissions,
  };
  await app.register(authPlugin, { tokens, routePermissions });
  if (config.env !== 'production') {
    const { default: swaggerUi } = await import('@fastify/swagger-ui');
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  }
  await app.register(healthRoutes);
  await app.register(tokenRoutes);
  await app.register(sessionRoutes);
  await app.register(adminRoutes);
  await app.register(intentRoutes);
  await app.register(intentActionRoutes);
  await app.register(intentEventRoutes);
  await app.register(wellKnownRoutes);
  await app.register(metricsRoutes);
  await app.register(rpcRoutes);
  await app.register(mcpRoutes);
  await app.register(budgetRoutes);
  await app.register(consoleRoutes());

  // Background jobs: one start, one stop (workers/gateway-workers.ts lists them).
  app.addHook('onReady', async () => workers.start());
  app.addHook('onReady', async () => watcher.start());
  // Graceful shutdown (server.ts on SIGTERM/SIGINT, or app.close()). preClose runs before the server stops accepting
  // and waits for in-flight requests: long-polls answer now with the current state, and every response from here on
  // closes its connection, so idle keep-alive sockets do not hold the close open. The workers begin stopping at once.
  let stoppingWorkers: Promise<void> | null = null;
  app.addHook('preClose', async () => {
    closing.abort();
    jobRunner.stop(); // a running job stops between batches (a backup's child process is ended)
    stoppingWorkers = workers.stop();
    await watcher.close(); // every open stream and long-poll answers now
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing.signal.aborted) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    // Every request has been answered. Intents already being processed (an approval's resumption, say) finish or
    // fail closed before the signer and the pool go away.
    await (stoppingWorkers ?? workers.stop());
    await pipeline.drain();
    await signer.close();
    redis?.disconnect();
    await pool.end();
  });
  return app;
}

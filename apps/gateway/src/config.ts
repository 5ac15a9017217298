import { createPrivateKey } from 'node:crypto';
import { getAddress, isAddress, type Address } from 'viem';
import { envReader, type EnvReader } from './config/env-schema.ts';
import { ConfigError, readNamedFile, splitList, type Env } from './config/env-types.ts';
import { databaseTransport, redisTransport, TRANSPORT_REFUSALS } from './config/transport-security.ts';
import type { Cidr } from './security/ip-allowlist.ts';
import type { HygieneRules } from './security/intent-hygiene.ts';
import type { AlertRouting } from './domain/alert.ts';
import { CHANNEL_NAME } from './domain/notification.ts';
import type { AlertWatchSettings } from './alerts/alert-watch.ts';
import type { IncidentWatchSettings } from './incidents/incident-watch.ts';
import type { BackupSettings } from './jobs/backup.ts';
import type { RetentionSettings } from './jobs/retention.ts';
import type { KeyAgeSettings } from './jobs/key-age.ts';
import type { FaultPointSpec } from '@clawd402/protocol';
import type { X402Settings } from './intent-path/x402-payments.ts';

export { ConfigError } from './config/env-types.ts';
export { envReader, type EnvReader } from './config/env-schema.ts';

/**
 * Gateway configuration, read once at boot from the environment. Invalid or missing settings stop the process with
 * a message naming the variable; secrets never get defaults and are read from files, never from the environment
 * itself (production refuses inline secrets). Packages never read process.env: only this file does, through the
 * schema in config/env-schema.ts (every variable, its format, default and production rule).
 */
export interface ChainConfig {
  chainId: number;
  /** The primary RPC endpoint (the first of `rpcUrls`). */
  rpcUrl: string;
  /** Primary first, then fallbacks (CHAIN_RPC_URLS "31337=http://a|http://b"). Absent: `[rpcUrl]`. */
  rpcUrls?: string[];
  /** Private relay endpoints (PRIVATE_RELAY_URLS) for transactions above the MEV threshold; absent: public only. */
  privateRelayUrls?: string[];
  /** Fee caps in wei (CHAIN_MAX_FEE_GWEI, CHAIN_MAX_PRIORITY_FEE_GWEI); absent: no cap. */
  maxFeePerGasCap?: bigint;
  maxPriorityFeePerGasCap?: bigint;
  /** CHAIN_REORG_DEPTH: blocks below the head watched for a reorganisation; absent: the tracker's default (64). */
  reorgDepth?: number;
}

/** Healthy submission (docs/submission.md): MEV threshold, stuck detection, replacement fees, RPC health checks. */
export interface SubmissionConfig {
  /** PRIVATE_RELAY_MIN_VALUE_USD (micro-USD): at or above it, intents go to the chain's private relay when it has one. */
  privateRelayMinValueUsd: bigint;
  /** SUBMISSION_STUCK_AFTER_SECONDS: a transaction pending this long is rebroadcast or sped up. */
  stuckAfterMs: number;
  /** SUBMISSION_MAX_AUTO_SPEEDUPS: automatic speed-ups per intent (operators may speed up further). */
  maxAutoSpeedUps: number;
  /** SUBMISSION_FEE_BUMP_PERCENT: how much a replacement raises both fees (at least 10, the replacement minimum). */
  feeBumpPercent: number;
  /** CHAIN_HEALTH_INTERVAL_MS: how often every RPC endpoint is probed (eth_chainId). */
  healthIntervalMs: number;
}

export interface GatewayConfig {
  /** FAULT_POINT (NODE_ENV=test only): the crash tests' SIGKILL point; null in every real deployment. */
  faultPoint: FaultPointSpec | null;
  env: 'development' | 'test' | 'production';
  host: string;
  port: number;
  /** HEAP_GROWTH_PERCENT: V8's heap growing factor, applied at start (lib/heap-growth.ts); 0: V8's own. */
  heapGrowthPercent: number;
  logLevel: string;
  /** LOG_IP_MODE: client addresses in log lines, masked (the default) or full (logging/logger-options.ts). */
  logIpMode: 'masked' | 'full';
  databaseUrl: string;
  databasePoolMax: number;
  migrateOnStart: boolean;
  redisUrl: string | null;
  chains: ChainConfig[];
  signerSocket: string;
  /** Ed25519 private key (PKCS8 PEM) the gateway signs tickets with. */
  ticketPrivateKeyPem: string;
  /** RSA private key (PKCS8 PEM) for access tokens. */
  jwtPrivateKeyPem: string;
  /** Public keys (SPKI PEM) still accepted during a rotation overlap. */
  jwtPreviousPublicKeyPems: string[];
  jwtIssuer: string;
  jwtAudience: string;
  jwtExpirySeconds: number;
  jwtRefreshExpirySeconds: number;
  sessionAbsoluteSeconds: number;
  /** Ranges allowed to reach /admin/* (default: loopback only). */
  adminAllowedIps: Cidr[];
  /** Proxies whose X-Forwarded-For is believed (none by default: the socket peer is the client). */
  trustedProxies: string[];
  /** Key (32 bytes) that seals TOTP secrets at rest; null disables TOTP enrolment. Required in production. */
  secretsKey: Buffer | null;
  /** Native TLS: PEM certificate chain and key, read from files. */
  tls: { cert: string; key: string } | null;
  /** With TLS: a plain-HTTP port that answers every request with a 301 to HTTPS. */
  httpRedirectPort: number | null;
  allowedMethods: string[];
  allowedHeaders: string[];
  policyText: string;
  policySource: string;
  rateLimitIpPerMin: number;
  /** Per principal (API key or user): a token bucket refilled at this rate, holding `rateLimitPrincipalBurst`. */
  rateLimitPrincipalPerMin: number;
  rateLimitPrincipalBurst: number;
  /** Per route of a class, per principal (or address when unauthenticated), over a sliding minute. */
  rateLimitIntentsPerMin: number;
  rateLimitAuthPerMin: number;
  rateLimitAdminPerMin: number;
  /** Reads of one's own intents: their own address and route windows, outside the principal's bucket. */
  rateLimitIntentReadsPerMin: number;
  /** Prefix of every rate-limit key in Redis (installations sharing a Redis use different ones). */
  rateLimitRedisPrefix: string;
  allowedOrigins: string[];
  trackerIntervalMs: number;
  /** Agent input hygiene: injection phrases, canary tokens, memo cap (HYGIENE_CONFIG_FILE; built-in defaults without it). */
  hygiene: HygieneRules;
  /** Notification delivery (docs/notifications.md): NOTIFY_* settings. */
  notifications: NotificationConfig;
  /** CONSOLE_BASE_URL: the operator console's origin (and path prefix); approval links point at `<it>/console/approvals/<id>`. */
  consoleBaseUrl: string | null;
  /** Money safety: breaker thresholds (micro-USD of rolling-day spend per scope) and what each state does. */
  money: MoneyConfig;
  /** Simulation before the decision (docs/simulation.md): SIMULATION=on|off (default on), SIMULATION_GAS_CAP. */
  simulation: { enabled: boolean; gasCap: bigint | null };
  /** Swaps (docs/swaps.md): SWAP_ROUTERS ("<chainId>=<Uniswap V2-style router>,…"), SWAP_MAX_DEADLINE_SECONDS. */
  swaps: { routers: Map<number, Address>; maxDeadlineSeconds: number };
  /** x402 payments (docs/x402.md): X402_ASSETS, X402_PAYEES, X402_MAX_VALIDITY_SECONDS, X402_MAX_PAYMENT_USD. */
  x402: X402Settings;
  /** Healthy submission: private relay threshold, stuck detection, fee bumps, RPC health checks (docs/submission.md). */
  submission: SubmissionConfig;
  /** Where the config came from: 'embedded' for the dev launcher, 'environment' otherwise. */
  mode: 'embedded' | 'environment';
  /** The kill switch (docs/killswitch.md): KILLSWITCH_RELEASE_OWNERS, distinct owners a release needs (1 or 2). */
  killSwitch: { releaseOwners: number };
  /** Alert routing, deduplication and the alert watch's thresholds (docs/incidents.md): ALERT_*. */
  alerts: AlertsConfig;
  /** The incident watch (docs/incidents.md): INCIDENT_*. */
  incidents: { watchIntervalMs: number; watch: IncidentWatchSettings };
  /** Scheduled jobs, retention and backups (docs/jobs.md): JOB*, RETENTION_*, AUDIT_VERIFY_SCHEDULE, BACKUP_*. */
  jobs: JobsConfig;
}

export interface AlertsConfig {
  routing: AlertRouting;
  watchIntervalMs: number;
  watch: Omit<AlertWatchSettings, 'dedupSeconds'>;
}

export interface JobsConfig {
  /** JOB_RUNNER=on: this replica claims due jobs. */
  runner: boolean;
  pollIntervalMs: number;
  leaseMs: number;
  retryBaseMs: number;
  retentionSchedule: string;
  retention: RetentionSettings;
  auditVerifySchedule: string;
  backupSchedule: string;
  backup: Omit<BackupSettings, 'command'> & { cli: string | null };
  keyAgeSchedule: string;
  /** KEY_AGE_DUE_DAYS, KEY_AGE_OVERDUE_DAYS, KEY_AGE_CRITICAL_DAYS. */
  keyAge: KeyAgeSettings;
  /** SECURITY_REPORT_SCHEDULE, SECURITY_REPORT_CHANNELS, DEPENDENCY_AUDIT_FILE. */
  securityReport: { schedule: string; channels: readonly string[]; dependencyAuditFile: string | null };
}

export interface MoneyConfig {
  breaker: { warning: bigint; soft: bigint; hard: bigint; emergency: bigint };
  /** Recipients still allowed in the hard (red) state, each intent at most `hardCapMicros`. */
  hardAllowlist: Address[];
  hardCapMicros: bigint;
  /** Where breaker alerts go (besides the alerts table and the log): provisioned as notification channels at boot. */
  alertWebhookUrl: string | null;
  /** HMAC secret of that webhook (CIRCUIT_BREAKER_WEBHOOK_SECRET_FILE). */
  alertWebhookSecret: string | null;
  alertEmail: string | null;
  /** SMTP server for CIRCUIT_BREAKER_EMAIL (SMTP_HOST, SMTP_PORT, SMTP_TLS, SMTP_FROM, SMTP_USERNAME, SMTP_PASSWORD_FILE). */
  smtp: {
    host: string;
    port: number;
    tls: 'implicit' | 'starttls' | 'none';
    from: string;
    username: string | null;
    password: string | null;
  } | null;
  /** Further channel names told when a breaker rises (CIRCUIT_BREAKER_CHANNELS). */
  alertChannels: string[];
  /** Notification channels and timeout for intents the soft breaker sends to a human. */
  softApprovalChannels: string[];
  softApprovalTimeoutSeconds: number;
  /** Outside production only: the static USD price seeded for each configured chain's native coin when the asset registry has none. */
  devNativePriceUsd: string | null;
}

export interface NotificationConfig {
  /** NOTIFY_ALLOW_PRIVATE_ADDRESSES: deliver to loopback/private addresses (local testing; production refuses it). */
  allowPrivateAddresses: boolean;
  /** NOTIFY_POLL_INTERVAL_MS: dispatcher timer (LISTEN/NOTIFY wakes it sooner). */
  pollIntervalMs: number;
  /** NOTIFY_MAX_ATTEMPTS: attempts before a notification is dead-lettered. */
  maxAttempts: number;
  /** NOTIFY_TIMEOUT_MS: per delivery attempt. */
  timeoutMs: number;
}

/**
 * Build the configuration from environment variables, read through the schema in config/env-schema.ts (which
 * docs/configuration.md is generated from). In production it refuses embedded defaults (PGlite, the in-process
 * rate-limit store), inline secrets in URLs, and placeholder secret files.
 */
export function loadConfig(env: Env = process.env, overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  const read = envReader(env);
  const { nodeEnv, production } = read.context;
  const mode = overrides.mode ?? 'environment';
  if (production && mode === 'embedded') {
    throw new ConfigError(
      'NODE_ENV',
      'production refuses the embedded default (PGlite, dev keystore, anvil); configure real services',
    );
  }
  const databaseUrl = overrides.databaseUrl ?? read('DATABASE_URL_FILE') ?? read('DATABASE_URL');
  if (!databaseUrl) throw new ConfigError('DATABASE_URL', 'is required (or DATABASE_URL_FILE)');
  read('DATABASE_URL'); // production refuses a password inline even when the file or an override wins
  const redisUrl =
    overrides.redisUrl !== undefined ? overrides.redisUrl : (read('REDIS_URL_FILE') ?? read('REDIS_URL'));
  if (production && !redisUrl)
    throw new ConfigError(
      'REDIS_URL',
      'is required in production (the in-process rate-limit store is for development only)',
    );
  read('REDIS_URL'); // likewise
  if (production) {
    // In transit: a database or cache across a network needs verified TLS (config/transport-security.ts).
    if (!databaseTransport(databaseUrl).ok) throw new ConfigError('DATABASE_URL', TRANSPORT_REFUSALS.DATABASE_URL);
    if (redisUrl && !redisTransport(redisUrl).ok) throw new ConfigError('REDIS_URL', TRANSPORT_REFUSALS.REDIS_URL);
  }
  const allowedOrigins = read('ALLOWED_ORIGINS');
  const adminAllowedIps = read('ADMIN_ALLOWED_IPS');
  const trustedProxies = read('TRUSTED_PROXIES');
  const tls =
    read.isSet('TLS_CERT_FILE') || read.isSet('TLS_KEY_FILE')
      ? { cert: read.require('TLS_CERT_FILE'), key: read.require('TLS_KEY_FILE') }
      : null;
  if (production && !tls && trustedProxies.length === 0) {
    throw new ConfigError(
      'TLS_CERT_FILE',
      'production needs TLS: set TLS_CERT_FILE and TLS_KEY_FILE, or TRUSTED_PROXIES for a TLS-terminating proxy',
    );
  }

  const policySource = overrides.policySource ?? read('POLICY_FILE');
  if (!policySource && overrides.policyText === undefined)
    throw new ConfigError('POLICY_FILE', 'is required (a YAML or JSON policy set)');
  const policyText = overrides.policyText ?? readNamedFile('POLICY_FILE', policySource!);

  const chains = overrides.chains ?? chainConfigs(read);
  const config: GatewayConfig = {
    env: nodeEnv,
    host: read('HOST'),
    port: read('PORT'),
    heapGrowthPercent: read('HEAP_GROWTH_PERCENT'),
    logLevel: read('LOG_LEVEL'),
    logIpMode: read('LOG_IP_MODE'),
    databaseUrl,
    databasePoolMax: read('DATABASE_POOL_MAX'),
    migrateOnStart: read('MIGRATE_ON_START'),
    redisUrl,
    chains,
    signerSocket: overrides.signerSocket ?? read('SIGNER_SOCKET') ?? '',
    ticketPrivateKeyPem: overrides.ticketPrivateKeyPem ?? read.require('TICKET_PRIVATE_KEY_FILE'),
    jwtPrivateKeyPem: overrides.jwtPrivateKeyPem ?? read.require('JWT_PRIVATE_KEY_FILE'),
    jwtPreviousPublicKeyPems: read('JWT_PREVIOUS_PUBLIC_KEYS_FILE') ?? [],
    jwtIssuer: read('JWT_ISSUER'),
    jwtAudience: read('JWT_AUDIENCE'),
    jwtExpirySeconds: read('JWT_EXPIRY'),
    jwtRefreshExpirySeconds: read('JWT_REFRESH_EXPIRY'),
    sessionAbsoluteSeconds: read('SESSION_ABSOLUTE_SECONDS'),
    adminAllowedIps,
    trustedProxies,
    tls,
    secretsKey: overrides.secretsKey !== undefined ? overrides.secretsKey : read('SECRETS_KEY_FILE'),
    httpRedirectPort: read('HTTP_REDIRECT_PORT'),
    allowedMethods: read('ALLOWED_METHODS'),
    allowedHeaders: read('ALLOWED_HEADERS'),
    policyText,
    policySource: policySource ?? 'inline',
    rateLimitIpPerMin: read('RATE_LIMIT_IP_PER_MIN'),
    rateLimitPrincipalPerMin: read('RATE_LIMIT_PRINCIPAL_PER_MIN'),
    rateLimitPrincipalBurst: read('RATE_LIMIT_PRINCIPAL_BURST'),
    rateLimitIntentsPerMin: read('RATE_LIMIT_INTENTS_PER_MIN'),
    rateLimitAuthPerMin: read('RATE_LIMIT_AUTH_PER_MIN'),
    rateLimitAdminPerMin: read('RATE_LIMIT_ADMIN_PER_MIN'),
    rateLimitIntentReadsPerMin: read('RATE_LIMIT_INTENT_READS_PER_MIN'),
    rateLimitRedisPrefix: read('RATE_LIMIT_REDIS_PREFIX'),
    allowedOrigins,
    trackerIntervalMs: read('TRACKER_INTERVAL_MS'),
    faultPoint: read('FAULT_POINT'),
    hygiene: read('HYGIENE_CONFIG_FILE'),
    notifications: {
      allowPrivateAddresses: read('NOTIFY_ALLOW_PRIVATE_ADDRESSES'),
      pollIntervalMs: read('NOTIFY_POLL_INTERVAL_MS'),
      maxAttempts: read('NOTIFY_MAX_ATTEMPTS'),
      timeoutMs: read('NOTIFY_TIMEOUT_MS'),
    },
    consoleBaseUrl: read('CONSOLE_BASE_URL'),
    alerts: {
      routing: {
        routes: {
          critical: read('ALERT_ROUTE_CRITICAL'),
          high: read('ALERT_ROUTE_HIGH'),
          medium: read('ALERT_ROUTE_MEDIUM'),
          low: read('ALERT_ROUTE_LOW'),
        },
        digestChannels: read('ALERT_DIGEST_CHANNELS'),
        digestIntervalSeconds: read('ALERT_DIGEST_INTERVAL_SECONDS'),
        dedupSeconds: read('ALERT_DEDUP_SECONDS'),
      },
      watchIntervalMs: read('ALERT_WATCH_INTERVAL_MS'),
      watch: {
        failureThreshold: read('ALERT_FAILED_TX_THRESHOLD'),
        failureWindowSeconds: read('ALERT_FAILED_TX_WINDOW_SECONDS'),
        gasSpikeFactor: read('ALERT_GAS_SPIKE_PERCENT') / 100,
        hourlySpendUsdMicros: read('ALERT_HOURLY_SPEND_USD'),
        approvalExpiringSeconds: read('ALERT_APPROVAL_EXPIRING_SECONDS'),
      },
    },
    incidents: {
      watchIntervalMs: read('INCIDENT_WATCH_INTERVAL_MS'),
      watch: {
        responses: read('INCIDENT_RESPONSES'),
        blockSeconds: read('INCIDENT_BLOCK_SECONDS'),
        burstIntents: read('INCIDENT_BURST_INTENTS'),
        burstWindowSeconds: read('INCIDENT_BURST_WINDOW_SECONDS'),
        costFactor: read('INCIDENT_COST_FACTOR_PERCENT') / 100,
        costMinUsdMicros: read('INCIDENT_COST_MIN_USD'),
        errorRatePercent: read('INCIDENT_ERROR_RATE_PERCENT'),
        errorWindowSeconds: read('INCIDENT_ERROR_WINDOW_SECONDS'),
        errorMinIntents: read('INCIDENT_ERROR_MIN_INTENTS'),
        bypassThreshold: read('INCIDENT_BYPASS_THRESHOLD'),
        bypassWindowSeconds: read('INCIDENT_BYPASS_WINDOW_SECONDS'),
      },
    },
    money: moneyConfig(read),
    simulation: { enabled: read('SIMULATION') === 'on', gasCap: read('SIMULATION_GAS_CAP') },
    swaps: swapConfig(read, chains),
    x402: x402Config(read, chains),
    submission: {
      privateRelayMinValueUsd: read('PRIVATE_RELAY_MIN_VALUE_USD'),
      stuckAfterMs: read('SUBMISSION_STUCK_AFTER_SECONDS') * 1000,
      maxAutoSpeedUps: read('SUBMISSION_MAX_AUTO_SPEEDUPS'),
      feeBumpPercent: read('SUBMISSION_FEE_BUMP_PERCENT'),
      healthIntervalMs: read('CHAIN_HEALTH_INTERVAL_MS'),
    },
    mode,
    killSwitch: { releaseOwners: read('KILLSWITCH_RELEASE_OWNERS') },
    jobs: jobsConfig(read),
    ...overrides,
  };
  if (!config.signerSocket) throw new ConfigError('SIGNER_SOCKET', "is required (the signer's Unix socket path)");
  assertRsaKey(config.jwtPrivateKeyPem);
  if (production && !config.secretsKey)
    throw new ConfigError(
      'SECRETS_KEY_FILE',
      'is required in production (owners must use TOTP, whose secrets it seals)',
    );
  return config;
}

/** JOB_RUNNER, JOBS_*, RETENTION_*, AUDIT_VERIFY_SCHEDULE, BACKUP_*, KEY_AGE_* and SECURITY_REPORT_* (docs/jobs.md). */
function jobsConfig(read: EnvReader): JobsConfig {
  const backup = {
    location: read('BACKUP_LOCATION') || null,
    recipients: read('BACKUP_RECIPIENT'),
    recipientsFile: read('BACKUP_RECIPIENTS_FILE') || null,
    s3Endpoint: read('BACKUP_S3_ENDPOINT') || null,
    workDir: read('BACKUP_WORK_DIR') || null,
    signerKeyDir: read('SIGNER_KEY_DIR') || null,
    signerJournal: read('SIGNER_JOURNAL') || null,
    cli: read('BACKUP_CLI') || null,
  };
  if (backup.location && backup.recipients.length === 0 && !backup.recipientsFile)
    throw new ConfigError('BACKUP_RECIPIENT', 'is required with BACKUP_LOCATION (or set BACKUP_RECIPIENTS_FILE)');
  const keyAge = {
    dueDays: read('KEY_AGE_DUE_DAYS'),
    overdueDays: read('KEY_AGE_OVERDUE_DAYS'),
    criticalDays: read('KEY_AGE_CRITICAL_DAYS'),
  };
  if (!(keyAge.dueDays <= keyAge.overdueDays && keyAge.overdueDays <= keyAge.criticalDays))
    throw new ConfigError('KEY_AGE_DUE_DAYS', 'the key ages must rise: DUE ≤ OVERDUE ≤ CRITICAL');
  const reportChannels = read('SECURITY_REPORT_CHANNELS');
  const badChannel = reportChannels.find((name) => !CHANNEL_NAME.test(name));
  if (badChannel !== undefined)
    throw new ConfigError('SECURITY_REPORT_CHANNELS', `"${badChannel}" is not a channel name (a-z, 0-9, _ and -)`);
  return {
    runner: read('JOB_RUNNER') === 'on',
    pollIntervalMs: read('JOBS_POLL_INTERVAL_MS'),
    leaseMs: read('JOBS_LEASE_MS'),
    retryBaseMs: read('JOBS_RETRY_BASE_MS'),
    retentionSchedule: read('RETENTION_SCHEDULE'),
    retention: {
      sessionsDays: read('RETENTION_SESSIONS_DAYS'),
      authFailuresDays: read('RETENTION_AUTH_FAILURES_DAYS'),
      ipBlocksDays: read('RETENTION_IP_BLOCKS_DAYS'),
      outboxDeliveredDays: read('RETENTION_OUTBOX_DELIVERED_DAYS'),
      spendBucketsHours: read('RETENTION_SPEND_BUCKETS_HOURS'),
      alertsDays: read('RETENTION_ALERTS_DAYS'),
      personalDataDays: read('RETENTION_PERSONAL_DATA_DAYS'),
      batchSize: read('RETENTION_BATCH_SIZE'),
    },
    auditVerifySchedule: read('AUDIT_VERIFY_SCHEDULE'),
    backupSchedule: read('BACKUP_SCHEDULE'),
    backup,
    keyAgeSchedule: read('KEY_AGE_SCHEDULE'),
    keyAge,
    securityReport: {
      schedule: read('SECURITY_REPORT_SCHEDULE'),
      channels: reportChannels,
      dependencyAuditFile: read('DEPENDENCY_AUDIT_FILE') || null,
    },
  };
}

/** The database URL for tools (`pnpm audit:verify`): DATABASE_URL_FILE, else DATABASE_URL, else null. */
export function databaseUrlFrom(env: Env = process.env): string | null {
  const read = envReader(env);
  return read('DATABASE_URL_FILE') ?? (read('DATABASE_URL') || null);
}

/**
 * CHAIN_RPC_URLS (required), PRIVATE_RELAY_URLS, CHAIN_MAX_FEE_GWEI, CHAIN_MAX_PRIORITY_FEE_GWEI: one ChainConfig per
 * chain. Each list may come from a file (`<NAME>_FILE`), which wins. Relays and caps must name configured chains.
 */
function chainConfigs(read: EnvReader): ChainConfig[] {
  const rpcs = read('CHAIN_RPC_URLS_FILE') ?? read('CHAIN_RPC_URLS');
  if (!rpcs)
    throw new ConfigError(
      'CHAIN_RPC_URLS',
      'is required, e.g. "31337=http://127.0.0.1:8545" (several endpoints: "31337=http://a|http://b")',
    );
  if (rpcs.size === 0) throw new ConfigError('CHAIN_RPC_URLS', 'lists no chain');
  const relays = read('PRIVATE_RELAY_URLS_FILE') ?? read('PRIVATE_RELAY_URLS') ?? new Map<number, string[]>();
  const maxFee = read('CHAIN_MAX_FEE_GWEI');
  const maxPriority = read('CHAIN_MAX_PRIORITY_FEE_GWEI');
  const reorgDepths = read('CHAIN_REORG_DEPTH');
  for (const [name, map] of [
    ['PRIVATE_RELAY_URLS', relays],
    ['CHAIN_MAX_FEE_GWEI', maxFee],
    ['CHAIN_MAX_PRIORITY_FEE_GWEI', maxPriority],
    ['CHAIN_REORG_DEPTH', reorgDepths],
  ] as const) {
    for (const chainId of map.keys())
      if (!rpcs.has(chainId)) throw new ConfigError(name, `chain ${chainId} is not in CHAIN_RPC_URLS`);
  }
  return [...rpcs].map(([chainId, urls]) => {
    const fee = maxFee.get(chainId);
    const priority = maxPriority.get(chainId);
    if (fee !== undefined && priority !== undefined && priority > fee) {
      throw new ConfigError(
        'CHAIN_MAX_PRIORITY_FEE_GWEI',
        `chain ${chainId}: the priority-fee cap is above the max-fee cap`,
      );
    }
    return {
      chainId,
      rpcUrl: urls[0]!,
      rpcUrls: urls,
      ...(relays.has(chainId) ? { privateRelayUrls: relays.get(chainId)! } : {}),
      ...(fee !== undefined ? { maxFeePerGasCap: fee } : {}),
      ...(priority !== undefined ? { maxPriorityFeePerGasCap: priority } : {}),
      ...(reorgDepths.has(chainId) ? { reorgDepth: reorgDepths.get(chainId)! } : {}),
    };
  });
}

/** The access-token key must be RSA of at least 2048 bits, in every environment. */
function assertRsaKey(pem: string): void {
  let bits: number;
  let type: string | undefined;
  try {
    const key = createPrivateKey(pem);
    type = key.asymmetricKeyType;
    bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  } catch {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'does not hold a readable private key (PEM)');
  }
  if (type !== 'rsa') throw new ConfigError('JWT_PRIVATE_KEY_FILE', `holds a ${type} key; an RSA key is required`);
  if (bits < 2048)
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', `holds an RSA key of ${bits} bits; at least 2048 are required`);
}

/** CIRCUIT_BREAKER_*, SMTP_* and the asset-price default. */
function moneyConfig(read: EnvReader): MoneyConfig {
  const { production } = read.context;
  const breaker = {
    warning: read('CIRCUIT_BREAKER_WARNING'),
    soft: read('CIRCUIT_BREAKER_SOFT'),
    hard: read('CIRCUIT_BREAKER_HARD'),
    emergency: read('CIRCUIT_BREAKER_EMERGENCY'),
  };
  if (!(breaker.warning <= breaker.soft && breaker.soft <= breaker.hard && breaker.hard <= breaker.emergency)) {
    throw new ConfigError('CIRCUIT_BREAKER_WARNING', 'the thresholds must rise: WARNING ≤ SOFT ≤ HARD ≤ EMERGENCY');
  }
  const hardAllowlist = read('CIRCUIT_BREAKER_HARD_ALLOWLIST');
  // A webhook URL usually embeds its own secret (Slack, PagerDuty): production reads it from a file.
  const alertWebhookUrl = read.isSet('CIRCUIT_BREAKER_WEBHOOK_FILE')
    ? read('CIRCUIT_BREAKER_WEBHOOK_FILE')
    : read('CIRCUIT_BREAKER_WEBHOOK');
  if (alertWebhookUrl !== null) {
    try {
      const url = new URL(alertWebhookUrl);
      if (url.protocol !== 'https:' && (production || url.protocol !== 'http:')) throw new Error('scheme');
    } catch {
      throw new ConfigError('CIRCUIT_BREAKER_WEBHOOK', 'must be an https URL (http allowed outside production)');
    }
  }
  const alertWebhookSecret = alertWebhookUrl === null ? null : read.require('CIRCUIT_BREAKER_WEBHOOK_SECRET_FILE');
  const alertEmail = read('CIRCUIT_BREAKER_EMAIL');
  let smtp: MoneyConfig['smtp'] = null;
  if (alertEmail !== null) {
    const host = read.require('SMTP_HOST');
    const from = read.require('SMTP_FROM');
    const tls = read('SMTP_TLS');
    smtp = {
      host,
      port: read.or('SMTP_PORT', tls === 'implicit' ? 465 : 587),
      tls,
      from,
      username: read('SMTP_USERNAME'),
      password: read('SMTP_PASSWORD_FILE'),
    };
  }
  if (alertEmail !== null && !/^[^\s@]+@[^\s@]+$/.test(alertEmail))
    throw new ConfigError('CIRCUIT_BREAKER_EMAIL', 'must be an email address');
  const devNativePriceUsd = read('DEV_NATIVE_PRICE_USD');
  return {
    breaker,
    hardAllowlist,
    hardCapMicros: read('CIRCUIT_BREAKER_HARD_CAP_USD'),
    alertWebhookUrl,
    alertWebhookSecret,
    alertEmail,
    smtp,
    alertChannels: read('CIRCUIT_BREAKER_CHANNELS'),
    softApprovalChannels: read('CIRCUIT_BREAKER_APPROVAL_CHANNELS'),
    softApprovalTimeoutSeconds: read('CIRCUIT_BREAKER_APPROVAL_TIMEOUT'),
    devNativePriceUsd,
  };
}

/** SWAP_ROUTERS ("31337=0x…,8453=0x…"; each chain must be in CHAIN_RPC_URLS) and SWAP_MAX_DEADLINE_SECONDS. */
function swapConfig(read: EnvReader, chains: readonly ChainConfig[]): GatewayConfig['swaps'] {
  const routers = new Map<number, Address>();
  for (const part of splitList(read('SWAP_ROUTERS') ?? '')) {
    const [id = '', address = ''] = part.split('=');
    if (!/^[1-9][0-9]{0,15}$/.test(id) || !isAddress(address, { strict: false })) {
      throw new ConfigError('SWAP_ROUTERS', `entry "${part}" is not <chainId>=<router address>`);
    }
    if (!chains.some((c) => c.chainId === Number(id)))
      throw new ConfigError('SWAP_ROUTERS', `chain ${id} is not in CHAIN_RPC_URLS`);
    if (routers.has(Number(id))) throw new ConfigError('SWAP_ROUTERS', `chain ${id} is listed twice`);
    routers.set(Number(id), getAddress(address));
  }
  return { routers, maxDeadlineSeconds: read('SWAP_MAX_DEADLINE_SECONDS') };
}

/** X402_ASSETS ("31337=0x…|0x…,8453=0x…"), X402_PAYEES ("api.example.com=0x…|0x…"), and the x402 caps. */
function x402Config(read: EnvReader, chains: readonly ChainConfig[]): X402Settings {
  const assets = new Map<number, Address[]>();
  for (const part of splitList(read('X402_ASSETS') ?? '')) {
    const [id = '', list = ''] = part.split('=');
    const tokens = list.split('|');
    if (!/^[1-9][0-9]{0,15}$/.test(id) || tokens.some((t) => !isAddress(t, { strict: false }))) {
      throw new ConfigError('X402_ASSETS', `entry "${part}" is not <chainId>=<token>|<token>`);
    }
    if (!chains.some((c) => c.chainId === Number(id)))
      throw new ConfigError('X402_ASSETS', `chain ${id} is not in CHAIN_RPC_URLS`);
    if (assets.has(Number(id))) throw new ConfigError('X402_ASSETS', `chain ${id} is listed twice`);
    assets.set(
      Number(id),
      tokens.map((t) => getAddress(t)),
    );
  }
  const payees = new Map<string, Address[]>();
  for (const part of splitList(read('X402_PAYEES') ?? '')) {
    const [host = '', list = ''] = part.split('=');
    const addresses = list.split('|');
    if (!/^[a-z0-9.-]{1,253}$/.test(host) || addresses.some((a) => !isAddress(a, { strict: false }))) {
      throw new ConfigError('X402_PAYEES', `entry "${part}" is not <lowercase host>=<payee>|<payee>`);
    }
    if (payees.has(host)) throw new ConfigError('X402_PAYEES', `host ${host} is listed twice`);
    payees.set(
      host,
      addresses.map((a) => getAddress(a)),
    );
  }
  return {
    assets,
    payees,
    maxValiditySeconds: read('X402_MAX_VALIDITY_SECONDS'),
    maxPaymentUsdMicros: read('X402_MAX_PAYMENT_USD'),
  };
}

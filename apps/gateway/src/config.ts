import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseCidrList, type Cidr } from './security/ip-allowlist.ts';
import { loadRsaPublicKey, parseSpkiPemBlocks } from './security/jwt-keys.ts';
import { parseSecretsKey } from './security/secret-box.ts';
import { DEFAULT_HYGIENE_RULES, HygieneConfigError, parseHygieneConfig, type HygieneRules } from './security/intent-hygiene.ts';
import { getAddress, isAddress, type Address } from 'viem';
import { parseUsd } from './money/usd.ts';

/**
 * Gateway configuration, read once at boot from the environment. Invalid or missing settings stop the process with
 * a message naming the variable; secrets never get defaults and are read from files, never from the environment
 * itself (production refuses inline secrets). Packages never read process.env: only this file does.
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
  env: 'development' | 'test' | 'production';
  host: string;
  port: number;
  logLevel: string;
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
  /** Healthy submission: private relay threshold, stuck detection, fee bumps, RPC health checks (docs/submission.md). */
  submission: SubmissionConfig;
  /** Where the config came from: 'embedded' for the dev launcher, 'environment' otherwise. */
  mode: 'embedded' | 'environment';
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
  smtp: { host: string; port: number; tls: 'implicit' | 'starttls' | 'none'; from: string; username: string | null; password: string | null } | null;
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

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const PLACEHOLDER = /^(changeme|change-me|secret|password|placeholder|example|test|dev|todo|xxx+|\*+)$/i;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
  return value;
}

function readSecretFile(env: Env, name: string): string {
  const path = env[name];
  if (!path) throw new ConfigError(name, 'is required (a path to a file holding the secret)');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(name, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (text.trim() === '' || PLACEHOLDER.test(text.trim())) throw new ConfigError(name, 'file holds an empty or placeholder secret');
  return text;
}

/**
 * Parse a per-chain URL list: "31337=http://a|http://b,8453=https://…" ("|" separates a chain's endpoints, first
 * = primary). Messages name the variable and the chain id, never a URL (URLs may carry credentials or API keys).
 */
function parseChainUrls(name: string, raw: string): Map<number, string[]> {
  const chains = new Map<number, string[]>();
  for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const id = part.slice(0, eq);
    if (eq < 1 || !/^[1-9][0-9]{0,15}$/.test(id)) throw new ConfigError(name, `entry "${id}" is not <chainId>=<url>[|<url>…]`);
    const urls = part.slice(eq + 1).split('|').map((u) => u.trim());
    for (const url of urls) {
      try {
        const parsed = new URL(url);
        if (!['http:', 'https:'].includes(parsed.protocol)) throw new Error('scheme');
      } catch {
        throw new ConfigError(name, `chain ${id} has an endpoint that is not a valid http(s) URL`);
      }
    }
    if (new Set(urls).size !== urls.length) throw new ConfigError(name, `chain ${id} lists an endpoint twice`);
    if (chains.has(Number(id))) throw new ConfigError(name, `chain ${id} is listed twice`);
    chains.set(Number(id), urls);
  }
  return chains;
}

/** `<NAME>_FILE` (a file holding the list) or `<NAME>`; production refuses credentials or a query string inline. */
function chainUrlSetting(env: Env, name: string, production: boolean): Map<number, string[]> | null {
  const fromFile = env[`${name}_FILE`] ? readSecretFile(env, `${name}_FILE`).trim() : undefined;
  const raw = fromFile ?? env[name];
  if (!raw) return null;
  const map = parseChainUrls(fromFile !== undefined ? `${name}_FILE` : name, raw);
  if (production && fromFile === undefined) {
    for (const [chainId, urls] of map) {
      if (urls.some((u) => urlHasPassword(u) || new URL(u).username !== '' || new URL(u).search !== '')) {
        throw new ConfigError(name, `chain ${chainId} has an endpoint with credentials or an API key in the environment; use ${name}_FILE in production`);
      }
    }
  }
  return map;
}

/** Per-chain fee caps in gwei ("1=300,8453=5"), returned in wei. */
function gweiCaps(env: Env, name: string): Map<number, bigint> {
  const caps = new Map<number, bigint>();
  for (const part of (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const match = /^([1-9][0-9]{0,15})=(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,9}))?$/.exec(part);
    if (!match) throw new ConfigError(name, `entry "${part.slice(0, 40)}" is not <chainId>=<gwei>, e.g. "1=300"`);
    const wei = BigInt(match[2]!) * 10n ** 9n + BigInt((match[3] ?? '').padEnd(9, '0'));
    if (wei === 0n) throw new ConfigError(name, `chain ${match[1]} has a zero cap`);
    if (caps.has(Number(match[1]))) throw new ConfigError(name, `chain ${match[1]} is listed twice`);
    caps.set(Number(match[1]), wei);
  }
  return caps;
}

/**
 * CHAIN_RPC_URLS (required), PRIVATE_RELAY_URLS, CHAIN_MAX_FEE_GWEI, CHAIN_MAX_PRIORITY_FEE_GWEI: one ChainConfig per
 * chain. Relays and caps must name configured chains.
 */
function chainConfigs(env: Env, production: boolean): ChainConfig[] {
  const rpcs = chainUrlSetting(env, 'CHAIN_RPC_URLS', production);
  if (!rpcs) throw new ConfigError('CHAIN_RPC_URLS', 'is required, e.g. "31337=http://127.0.0.1:8545" (several endpoints: "31337=http://a|http://b")');
  if (rpcs.size === 0) throw new ConfigError('CHAIN_RPC_URLS', 'lists no chain');
  const relays = chainUrlSetting(env, 'PRIVATE_RELAY_URLS', production) ?? new Map<number, string[]>();
  const maxFee = gweiCaps(env, 'CHAIN_MAX_FEE_GWEI');
  const maxPriority = gweiCaps(env, 'CHAIN_MAX_PRIORITY_FEE_GWEI');
  for (const [name, map] of [['PRIVATE_RELAY_URLS', relays], ['CHAIN_MAX_FEE_GWEI', maxFee], ['CHAIN_MAX_PRIORITY_FEE_GWEI', maxPriority]] as const) {
    for (const chainId of map.keys()) if (!rpcs.has(chainId)) throw new ConfigError(name, `chain ${chainId} is not in CHAIN_RPC_URLS`);
  }
  return [...rpcs].map(([chainId, urls]) => {
    const fee = maxFee.get(chainId);
    const priority = maxPriority.get(chainId);
    if (fee !== undefined && priority !== undefined && priority > fee) {
      throw new ConfigError('CHAIN_MAX_PRIORITY_FEE_GWEI', `chain ${chainId}: the priority-fee cap is above the max-fee cap`);
    }
    return {
      chainId,
      rpcUrl: urls[0]!,
      rpcUrls: urls,
      ...(relays.has(chainId) ? { privateRelayUrls: relays.get(chainId)! } : {}),
      ...(fee !== undefined ? { maxFeePerGasCap: fee } : {}),
      ...(priority !== undefined ? { maxPriorityFeePerGasCap: priority } : {}),
    };
  });
}

/** PRIVATE_RELAY_MIN_VALUE_USD, SUBMISSION_*, CHAIN_HEALTH_INTERVAL_MS. */
function submissionConfig(env: Env): SubmissionConfig {
  return {
    privateRelayMinValueUsd: usd(env, 'PRIVATE_RELAY_MIN_VALUE_USD', '1000'),
    stuckAfterMs: int(env, 'SUBMISSION_STUCK_AFTER_SECONDS', 90, 5, 24 * 3600) * 1000,
    maxAutoSpeedUps: int(env, 'SUBMISSION_MAX_AUTO_SPEEDUPS', 3, 0, 20),
    feeBumpPercent: int(env, 'SUBMISSION_FEE_BUMP_PERCENT', 15, 10, 500),
    healthIntervalMs: int(env, 'CHAIN_HEALTH_INTERVAL_MS', 10_000, 500, 600_000),
  };
}

function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

/**
 * Build the configuration from environment variables. In production it refuses embedded defaults (PGlite, the
 * in-process rate-limit store), inline secrets in URLs, and placeholder secret files.
 */
export function loadConfig(env: Env = process.env, overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  const nodeEnv = env.NODE_ENV === 'production' ? 'production' : env.NODE_ENV === 'test' ? 'test' : 'development';
  const production = nodeEnv === 'production';
  const mode = overrides.mode ?? 'environment';
  if (production && mode === 'embedded') {
    throw new ConfigError('NODE_ENV', 'production refuses the embedded default (PGlite, dev keystore, anvil); configure real services');
  }
  const databaseUrl = overrides.databaseUrl ?? (env.DATABASE_URL_FILE ? readSecretFile(env, 'DATABASE_URL_FILE').trim() : env.DATABASE_URL);
  if (!databaseUrl) throw new ConfigError('DATABASE_URL', 'is required (or DATABASE_URL_FILE)');
  if (production && env.DATABASE_URL && urlHasPassword(env.DATABASE_URL)) {
    throw new ConfigError('DATABASE_URL', 'carries a password in the environment; use DATABASE_URL_FILE or PGPASSFILE in production');
  }
  const redisUrl = overrides.redisUrl !== undefined ? overrides.redisUrl : env.REDIS_URL_FILE ? readSecretFile(env, 'REDIS_URL_FILE').trim() : (env.REDIS_URL ?? null);
  if (production && !redisUrl) throw new ConfigError('REDIS_URL', 'is required in production (the in-process rate-limit store is for development only)');
  if (production && env.REDIS_URL && urlHasPassword(env.REDIS_URL)) {
    throw new ConfigError('REDIS_URL', 'carries a password in the environment; use REDIS_URL_FILE in production');
  }
  const list = (name: string, fallback: string): string[] => (env[name] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
  const allowedOrigins = list('ALLOWED_ORIGINS', '');
  if (allowedOrigins.some((o) => o.includes('*'))) throw new ConfigError('ALLOWED_ORIGINS', 'must list origins; a wildcard is never allowed');
  for (const origin of allowedOrigins) {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError('ALLOWED_ORIGINS', `"${origin}" is not an origin such as https://console.example.com`);
    }
    if (parsed.origin !== origin) throw new ConfigError('ALLOWED_ORIGINS', `"${origin}" is not an origin (scheme://host[:port], no path)`);
    if (production && parsed.protocol !== 'https:') throw new ConfigError('ALLOWED_ORIGINS', `"${origin}" must be https in production`);
  }
  const cidrs = (name: string, fallback: string): Cidr[] => {
    try {
      return parseCidrList(env[name] ?? fallback);
    } catch {
      throw new ConfigError(name, 'must be a comma-separated list of IP addresses or CIDR ranges');
    }
  };
  const adminAllowedIps = cidrs('ADMIN_ALLOWED_IPS', '127.0.0.1/32,::1/128');
  const trustedProxies = list('TRUSTED_PROXIES', '');
  cidrs('TRUSTED_PROXIES', '');
  if (trustedProxies.some((p) => p === '*' || p === '0.0.0.0/0' || p === '::/0')) {
    throw new ConfigError('TRUSTED_PROXIES', 'must name the proxies; trusting every address lets any client forge X-Forwarded-For');
  }
  const tls = env.TLS_CERT_FILE || env.TLS_KEY_FILE ? { cert: readSecretFile(env, 'TLS_CERT_FILE'), key: readSecretFile(env, 'TLS_KEY_FILE') } : null;
  if (production && !tls && trustedProxies.length === 0) {
    throw new ConfigError('TLS_CERT_FILE', 'production needs TLS: set TLS_CERT_FILE and TLS_KEY_FILE, or TRUSTED_PROXIES for a TLS-terminating proxy');
  }

  const policySource = overrides.policySource ?? env.POLICY_FILE;
  if (!policySource && overrides.policyText === undefined) throw new ConfigError('POLICY_FILE', 'is required (a YAML or JSON policy set)');
  let policyText = overrides.policyText;
  if (policyText === undefined) {
    try {
      policyText = readFileSync(policySource!, 'utf8');
    } catch (error) {
      throw new ConfigError('POLICY_FILE', `cannot read ${policySource}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }

  const chains = overrides.chains ?? chainConfigs(env, production);
  const config: GatewayConfig = {
    env: nodeEnv,
    host: env.HOST ?? '127.0.0.1',
    port: int(env, 'PORT', 8402, 0, 65535),
    logLevel: env.LOG_LEVEL ?? (nodeEnv === 'test' ? 'warn' : 'info'),
    databaseUrl,
    databasePoolMax: int(env, 'DATABASE_POOL_MAX', 20, 1, 500),
    migrateOnStart: env.MIGRATE_ON_START !== 'false',
    redisUrl,
    chains,
    signerSocket: overrides.signerSocket ?? env.SIGNER_SOCKET ?? '',
    ticketPrivateKeyPem: overrides.ticketPrivateKeyPem ?? readSecretFile(env, 'TICKET_PRIVATE_KEY_FILE'),
    jwtPrivateKeyPem: overrides.jwtPrivateKeyPem ?? readSecretFile(env, 'JWT_PRIVATE_KEY_FILE'),
    jwtPreviousPublicKeyPems: env.JWT_PREVIOUS_PUBLIC_KEYS_FILE ? previousJwtKeys(readFileOrFail(env, 'JWT_PREVIOUS_PUBLIC_KEYS_FILE')) : [],
    jwtIssuer: env.JWT_ISSUER ?? 'clawd402',
    jwtAudience: env.JWT_AUDIENCE ?? 'clawd402-api',
    jwtExpirySeconds: int(env, 'JWT_EXPIRY', 900, 60, 3600),
    jwtRefreshExpirySeconds: int(env, 'JWT_REFRESH_EXPIRY', 7 * 24 * 3600, 300, 30 * 24 * 3600),
    sessionAbsoluteSeconds: int(env, 'SESSION_ABSOLUTE_SECONDS', 24 * 3600, 900, 7 * 24 * 3600),
    adminAllowedIps,
    trustedProxies,
    tls,
    secretsKey: overrides.secretsKey !== undefined ? overrides.secretsKey : env.SECRETS_KEY_FILE ? secretsKeyFrom(readSecretFile(env, 'SECRETS_KEY_FILE')) : null,
    httpRedirectPort: env.HTTP_REDIRECT_PORT ? int(env, 'HTTP_REDIRECT_PORT', 0, 0, 65535) : null,
    allowedMethods: list('ALLOWED_METHODS', 'GET,POST,PUT,DELETE'),
    allowedHeaders: list('ALLOWED_HEADERS', 'authorization,content-type,idempotency-key'),
    policyText,
    policySource: policySource ?? 'inline',
    rateLimitIpPerMin: int(env, 'RATE_LIMIT_IP_PER_MIN', 100, 1, 10_000_000),
    rateLimitPrincipalPerMin: int(env, 'RATE_LIMIT_PRINCIPAL_PER_MIN', 60, 1, 10_000_000),
    rateLimitPrincipalBurst: int(env, 'RATE_LIMIT_PRINCIPAL_BURST', 20, 1, 10_000_000),
    rateLimitIntentsPerMin: int(env, 'RATE_LIMIT_INTENTS_PER_MIN', 30, 1, 10_000_000),
    rateLimitAuthPerMin: int(env, 'RATE_LIMIT_AUTH_PER_MIN', 20, 1, 10_000_000),
    rateLimitAdminPerMin: int(env, 'RATE_LIMIT_ADMIN_PER_MIN', 60, 1, 10_000_000),
    rateLimitRedisPrefix: rateLimitPrefix(env.RATE_LIMIT_REDIS_PREFIX ?? 'clawd402:rl:'),
    allowedOrigins,
    trackerIntervalMs: int(env, 'TRACKER_INTERVAL_MS', 1000, 50, 60_000),
    hygiene: hygieneRules(env),
    notifications: notificationConfig(env, production),
    consoleBaseUrl: consoleBaseUrl(env, production),
    money: moneyConfig(env, production),
    simulation: simulationConfig(env),
    swaps: swapConfig(env, chains),
    submission: submissionConfig(env),
    mode,
    ...overrides,
  };
  if (!config.signerSocket) throw new ConfigError('SIGNER_SOCKET', 'is required (the signer\'s Unix socket path)');
  assertRsaKey(config.jwtPrivateKeyPem);
  if (production && !config.secretsKey) throw new ConfigError('SECRETS_KEY_FILE', 'is required in production (owners must use TOTP, whose secrets it seals)');
  return config;
}

function rateLimitPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(prefix)) throw new ConfigError('RATE_LIMIT_REDIS_PREFIX', 'must be 1–64 characters of A–Z, a–z, 0–9, ":", "_", "." or "-"');
  return prefix;
}

/** The access-token key must be RSA of at least 2048 bits, in every environment. */
function assertRsaKey(pem: string): void {
  let bits = 0;
  let type: string | undefined;
  try {
    const key = createPrivateKey(pem);
    type = key.asymmetricKeyType;
    bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  } catch {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'does not hold a readable private key (PEM)');
  }
  if (type !== 'rsa') throw new ConfigError('JWT_PRIVATE_KEY_FILE', `holds a ${type} key; an RSA key is required`);
  if (bits < 2048) throw new ConfigError('JWT_PRIVATE_KEY_FILE', `holds an RSA key of ${bits} bits; at least 2048 are required`);
}

function readFileOrFail(env: Env, name: string): string {
  try {
    return readFileSync(env[name]!, 'utf8');
  } catch (error) {
    throw new ConfigError(name, `cannot read ${env[name]}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function secretsKeyFrom(text: string): Buffer {
  try {
    return parseSecretsKey(text);
  } catch (error) {
    throw new ConfigError('SECRETS_KEY_FILE', (error as Error).message);
  }
}

/** Zero or more SPKI PEM blocks, each an RSA public key of at least 2048 bits; anything else stops the boot. */
function previousJwtKeys(text: string): string[] {
  try {
    const pems = parseSpkiPemBlocks(text);
    for (const pem of pems) loadRsaPublicKey(pem);
    return pems;
  } catch (error) {
    throw new ConfigError('JWT_PREVIOUS_PUBLIC_KEYS_FILE', (error as Error).message);
  }
}

function usd(env: Env, name: string, fallback: string): bigint {
  const raw = env[name] ?? fallback;
  const value = parseUsd(raw);
  if (value === null) throw new ConfigError(name, `must be a non-negative USD amount such as "250" or "99.5", got "${raw}"`);
  return value;
}

/** CIRCUIT_BREAKER_* and the asset-price defaults. */
function moneyConfig(env: Env, production: boolean): MoneyConfig {
  const breaker = {
    warning: usd(env, 'CIRCUIT_BREAKER_WARNING', '100'),
    soft: usd(env, 'CIRCUIT_BREAKER_SOFT', '250'),
    hard: usd(env, 'CIRCUIT_BREAKER_HARD', '500'),
    emergency: usd(env, 'CIRCUIT_BREAKER_EMERGENCY', '1000'),
  };
  if (!(breaker.warning <= breaker.soft && breaker.soft <= breaker.hard && breaker.hard <= breaker.emergency)) {
    throw new ConfigError('CIRCUIT_BREAKER_WARNING', 'the thresholds must rise: WARNING ≤ SOFT ≤ HARD ≤ EMERGENCY');
  }
  const hardAllowlist = (env.CIRCUIT_BREAKER_HARD_ALLOWLIST ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((a) => {
    if (!isAddress(a, { strict: false })) throw new ConfigError('CIRCUIT_BREAKER_HARD_ALLOWLIST', `"${a}" is not an address`);
    return getAddress(a);
  });
  let alertWebhookUrl: string | null = null;
  if (env.CIRCUIT_BREAKER_WEBHOOK_FILE) alertWebhookUrl = readSecretFile(env, 'CIRCUIT_BREAKER_WEBHOOK_FILE').trim();
  else if (env.CIRCUIT_BREAKER_WEBHOOK) {
    // A webhook URL usually embeds its own secret (Slack, PagerDuty): production reads it from a file.
    if (production) throw new ConfigError('CIRCUIT_BREAKER_WEBHOOK', 'production reads the webhook URL from CIRCUIT_BREAKER_WEBHOOK_FILE, not the environment');
    alertWebhookUrl = env.CIRCUIT_BREAKER_WEBHOOK;
  }
  if (alertWebhookUrl !== null) {
    try {
      const url = new URL(alertWebhookUrl);
      if (url.protocol !== 'https:' && (production || url.protocol !== 'http:')) throw new Error('scheme');
    } catch {
      throw new ConfigError('CIRCUIT_BREAKER_WEBHOOK', 'must be an https URL (http allowed outside production)');
    }
  }
  const alertWebhookSecret = alertWebhookUrl === null ? null : readSecretFile(env, 'CIRCUIT_BREAKER_WEBHOOK_SECRET_FILE').trim();
  const alertEmail = env.CIRCUIT_BREAKER_EMAIL?.trim() || null;
  let smtp: MoneyConfig['smtp'] = null;
  if (alertEmail !== null) {
    if (!env.SMTP_HOST) throw new ConfigError('SMTP_HOST', 'is required with CIRCUIT_BREAKER_EMAIL (the SMTP server that sends it)');
    if (!env.SMTP_FROM) throw new ConfigError('SMTP_FROM', 'is required with CIRCUIT_BREAKER_EMAIL');
    const tls = env.SMTP_TLS ?? 'starttls';
    if (tls !== 'implicit' && tls !== 'starttls' && tls !== 'none') throw new ConfigError('SMTP_TLS', 'must be implicit, starttls or none');
    if (production && tls === 'none') throw new ConfigError('SMTP_TLS', 'production sends mail over TLS');
    smtp = {
      host: env.SMTP_HOST,
      port: int(env, 'SMTP_PORT', tls === 'implicit' ? 465 : 587, 1, 65535),
      tls,
      from: env.SMTP_FROM,
      username: env.SMTP_USERNAME ?? null,
      password: env.SMTP_PASSWORD_FILE ? readSecretFile(env, 'SMTP_PASSWORD_FILE').trim() : null,
    };
  }
  if (alertEmail !== null && !/^[^\s@]+@[^\s@]+$/.test(alertEmail)) throw new ConfigError('CIRCUIT_BREAKER_EMAIL', 'must be an email address');
  if (production && env.DEV_NATIVE_PRICE_USD) {
    throw new ConfigError('DEV_NATIVE_PRICE_USD', 'is a development default; production prices come from the asset registry (PUT /admin/assets)');
  }
  const devPrice = production ? null : (env.DEV_NATIVE_PRICE_USD ?? '2000');
  if (devPrice !== null && (parseUsd(devPrice) ?? 0n) === 0n) throw new ConfigError('DEV_NATIVE_PRICE_USD', 'must be a positive USD amount');
  return {
    breaker,
    hardAllowlist,
    hardCapMicros: usd(env, 'CIRCUIT_BREAKER_HARD_CAP_USD', '10'),
    alertWebhookUrl,
    alertWebhookSecret,
    alertEmail,
    smtp,
    alertChannels: (env.CIRCUIT_BREAKER_CHANNELS ?? '').split(',').map((c) => c.trim()).filter(Boolean),
    softApprovalChannels: (env.CIRCUIT_BREAKER_APPROVAL_CHANNELS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    softApprovalTimeoutSeconds: int(env, 'CIRCUIT_BREAKER_APPROVAL_TIMEOUT', 1800, 60, 7 * 24 * 3600),
    devNativePriceUsd: devPrice,
  };
}

/** NOTIFY_*: notification delivery. Production refuses private destinations. */
function notificationConfig(env: Env, production: boolean): NotificationConfig {
  const raw = env.NOTIFY_ALLOW_PRIVATE_ADDRESSES;
  if (raw !== undefined && raw !== '' && raw !== 'true' && raw !== 'false') throw new ConfigError('NOTIFY_ALLOW_PRIVATE_ADDRESSES', 'must be "true" or "false"');
  const allowPrivateAddresses = raw === 'true';
  if (production && allowPrivateAddresses) {
    throw new ConfigError('NOTIFY_ALLOW_PRIVATE_ADDRESSES', 'is for local testing; production never delivers notifications to loopback, private or metadata addresses');
  }
  return {
    allowPrivateAddresses,
    pollIntervalMs: int(env, 'NOTIFY_POLL_INTERVAL_MS', 2000, 100, 60_000),
    maxAttempts: int(env, 'NOTIFY_MAX_ATTEMPTS', 10, 1, 50),
    timeoutMs: int(env, 'NOTIFY_TIMEOUT_MS', 10_000, 1000, 60_000),
  };
}

/** CONSOLE_BASE_URL: an http(s) URL without query or fragment (https in production); trailing slashes dropped. */
function consoleBaseUrl(env: Env, production: boolean): string | null {
  const raw = env.CONSOLE_BASE_URL?.trim();
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('CONSOLE_BASE_URL', 'must be an absolute URL such as https://clawd402.example.com');
  }
  if (url.protocol !== 'https:' && (production || url.protocol !== 'http:')) throw new ConfigError('CONSOLE_BASE_URL', 'must be https (http allowed outside production)');
  if (url.search || url.hash || url.username || url.password) throw new ConfigError('CONSOLE_BASE_URL', 'must have no query, fragment or user info');
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/**
 * HYGIENE_CONFIG_FILE: YAML or JSON with `memoMaxLength`, `injectionPhrases` (added to the built-in ones) and
 * `canaryTokens`. A file, not variables, because canary tokens are secrets. Without it the built-in rules apply.
 */
function hygieneRules(env: Env): HygieneRules {
  if (!env.HYGIENE_CONFIG_FILE) return DEFAULT_HYGIENE_RULES;
  try {
    return parseHygieneConfig(readFileOrFail(env, 'HYGIENE_CONFIG_FILE'));
  } catch (error) {
    if (error instanceof HygieneConfigError) throw new ConfigError('HYGIENE_CONFIG_FILE', error.message);
    throw error;
  }
}

/** SIMULATION (on|off, default on) and SIMULATION_GAS_CAP (gas per transaction; default: the block gas limit). */
function simulationConfig(env: Env): GatewayConfig['simulation'] {
  const raw = env.SIMULATION ?? 'on';
  if (raw !== 'on' && raw !== 'off') throw new ConfigError('SIMULATION', `must be "on" or "off", got "${raw}"`);
  const cap = env.SIMULATION_GAS_CAP;
  if (cap !== undefined && cap !== '' && !/^[1-9][0-9]{0,9}$/.test(cap)) throw new ConfigError('SIMULATION_GAS_CAP', 'must be a positive whole number of gas');
  return { enabled: raw === 'on', gasCap: cap ? BigInt(cap) : null };
}

/** SWAP_ROUTERS ("31337=0x…,8453=0x…"; each chain must be in CHAIN_RPC_URLS) and SWAP_MAX_DEADLINE_SECONDS. */
function swapConfig(env: Env, chains: readonly ChainConfig[]): GatewayConfig['swaps'] {
  const routers = new Map<number, Address>();
  for (const part of (env.SWAP_ROUTERS ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [id = '', address = ''] = part.split('=');
    if (!/^[1-9][0-9]{0,15}$/.test(id) || !isAddress(address, { strict: false })) {
      throw new ConfigError('SWAP_ROUTERS', `entry "${part}" is not <chainId>=<router address>`);
    }
    if (!chains.some((c) => c.chainId === Number(id))) throw new ConfigError('SWAP_ROUTERS', `chain ${id} is not in CHAIN_RPC_URLS`);
    if (routers.has(Number(id))) throw new ConfigError('SWAP_ROUTERS', `chain ${id} is listed twice`);
    routers.set(Number(id), getAddress(address));
  }
  return { routers, maxDeadlineSeconds: int(env, 'SWAP_MAX_DEADLINE_SECONDS', 3600, 30, 7 * 24 * 3600) };
}

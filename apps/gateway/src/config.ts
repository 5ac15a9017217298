import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseCidrList, type Cidr } from './security/ip-allowlist.ts';
import { loadRsaPublicKey, parseSpkiPemBlocks } from './security/jwt-keys.ts';
import { parseSecretsKey } from './security/secret-box.ts';

/**
 * Gateway configuration, read once at boot from the environment. Invalid or missing settings stop the process with
 * a message naming the variable; secrets never get defaults and are read from files, never from the environment
 * itself (production refuses inline secrets). Packages never read process.env: only this file does.
 */
export interface ChainConfig {
  chainId: number;
  rpcUrl: string;
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
  allowedOrigins: string[];
  trackerIntervalMs: number;
  /** Where the config came from: 'embedded' for the dev launcher, 'environment' otherwise. */
  mode: 'embedded' | 'environment';
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

/** Parse `CHAIN_RPC_URLS` ("31337=http://127.0.0.1:8545,8453=https://…"). */
function parseChains(raw: string | undefined): ChainConfig[] {
  if (!raw) throw new ConfigError('CHAIN_RPC_URLS', 'is required, e.g. "31337=http://127.0.0.1:8545"');
  const chains: ChainConfig[] = [];
  for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const id = part.slice(0, eq);
    const url = part.slice(eq + 1);
    if (eq < 1 || !/^[1-9][0-9]{0,15}$/.test(id)) throw new ConfigError('CHAIN_RPC_URLS', `entry "${id}" is not <chainId>=<url>`);
    try {
      const parsed = new URL(url);
      if (!['http:', 'https:'].includes(parsed.protocol)) throw new Error('scheme');
    } catch {
      throw new ConfigError('CHAIN_RPC_URLS', `chain ${id} has no valid http(s) URL`);
    }
    if (chains.some((c) => c.chainId === Number(id))) throw new ConfigError('CHAIN_RPC_URLS', `chain ${id} is listed twice`);
    chains.push({ chainId: Number(id), rpcUrl: url });
  }
  if (chains.length === 0) throw new ConfigError('CHAIN_RPC_URLS', 'lists no chain');
  return chains;
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

  const config: GatewayConfig = {
    env: nodeEnv,
    host: env.HOST ?? '127.0.0.1',
    port: int(env, 'PORT', 8402, 0, 65535),
    logLevel: env.LOG_LEVEL ?? (nodeEnv === 'test' ? 'warn' : 'info'),
    databaseUrl,
    databasePoolMax: int(env, 'DATABASE_POOL_MAX', 20, 1, 500),
    migrateOnStart: env.MIGRATE_ON_START !== 'false',
    redisUrl,
    chains: overrides.chains ?? parseChains(env.CHAIN_RPC_URLS),
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
    allowedOrigins,
    trackerIntervalMs: int(env, 'TRACKER_INTERVAL_MS', 1000, 50, 60_000),
    mode,
    ...overrides,
  };
  if (!config.signerSocket) throw new ConfigError('SIGNER_SOCKET', 'is required (the signer\'s Unix socket path)');
  assertRsaKey(config.jwtPrivateKeyPem);
  if (production && !config.secretsKey) throw new ConfigError('SECRETS_KEY_FILE', 'is required in production (owners must use TOTP, whose secrets it seals)');
  return config;
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


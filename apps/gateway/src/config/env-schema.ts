import { getAddress, isAddress, type Address } from 'viem';
import { parseIncidentResponses } from '../domain/incident.ts';
import { GATEWAY_FAULT_POINTS, parseFaultPoint, type FaultPointSpec } from '@clawd402/protocol';
import { parseUsd } from '../domain/usd.ts';
import { parseCidrList, type Cidr } from '../security/ip-allowlist.ts';
import {
  DEFAULT_HYGIENE_RULES,
  HygieneConfigError,
  parseHygieneConfig,
  type HygieneRules,
} from '../security/intent-hygiene.ts';
import { loadRsaPublicKey, parseSpkiPemBlocks } from '../security/jwt-keys.ts';
import { parseSecretsKey } from '../security/secret-box.ts';
import { assertSchedule } from '../jobs/schedule.ts';
import {
  ConfigError,
  integer,
  list,
  namedFile,
  oneOf,
  optionalInteger,
  optionalText,
  readSecretFile,
  secretFile,
  splitList,
  text,
  usd,
  type Env,
  type EnvContext,
  type EnvVar,
  type NodeEnv,
} from './env-types.ts';

/**
 * Every environment variable the gateway reads, in one table: its format, range and default, when it is required,
 * what production refuses or requires, and whether it names a secret file. `loadConfig` (config.ts) reads the
 * environment only through `envReader` below, so a variable missing here cannot be read (the name would not type),
 * and docs/configuration.md is generated from this table (`pnpm --filter @clawd402/gateway docs:config`; a test
 * fails when the file is out of date). Checks that tie several variables together (breaker thresholds rise, relays
 * and fee caps name configured chains, TLS or a trusted proxy in production) stay in the loader, and the table
 * states them in words.
 */

const CHAIN_ID = /^[1-9][0-9]{0,15}$/;
const MINUTE_LIMIT = [1, 10_000_000] as const;

function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

/**
 * A per-chain URL list: "31337=http://a|http://b,8453=https://…" ("|" separates a chain's endpoints, first =
 * primary). Messages name the variable and the chain id, never a URL (URLs may carry credentials or API keys).
 */
function parseChainUrls(name: string, raw: string): Map<number, string[]> {
  const chains = new Map<number, string[]>();
  for (const part of splitList(raw)) {
    const eq = part.indexOf('=');
    const id = part.slice(0, eq);
    if (eq < 1 || !CHAIN_ID.test(id)) throw new ConfigError(name, `entry "${id}" is not <chainId>=<url>[|<url>…]`);
    const urls = part
      .slice(eq + 1)
      .split('|')
      .map((u) => u.trim());
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

const CHAIN_URLS_FORMAT = '`<chainId>=<http(s) URL>[|<fallback URL>…]`, comma-separated';

/** `<NAME>` inline: production refuses credentials or a query string (an API key) in any endpoint. */
function chainUrls(): Pick<EnvVar<Map<number, string[]> | null>, 'format' | 'parse'> {
  return {
    format: CHAIN_URLS_FORMAT,
    parse: (raw, name, { production }) => {
      if (!raw) return null;
      const map = parseChainUrls(name, raw);
      if (production) {
        for (const [chainId, urls] of map) {
          if (urls.some((u) => urlHasPassword(u) || new URL(u).username !== '' || new URL(u).search !== '')) {
            throw new ConfigError(
              name,
              `chain ${chainId} has an endpoint with credentials or an API key in the environment; use ${name}_FILE in production`,
            );
          }
        }
      }
      return map;
    },
  };
}

/** `<NAME>_FILE`: a secret file holding the same list (credentials allowed). */
function chainUrlsFile(): Pick<EnvVar<Map<number, string[]> | null>, 'format' | 'parse' | 'secret'> {
  return {
    format: `path to a secret file holding ${CHAIN_URLS_FORMAT}`,
    secret: true,
    parse: (raw, name) => (raw ? parseChainUrls(name, readSecretFile(name, raw).trim()) : null),
  };
}

/** A cron expression in UTC (jobs/schedule.ts); unset: `fallback`. */
function cronSchedule(fallback: string): Pick<EnvVar<string>, 'format' | 'default' | 'parse'> {
  return {
    format: 'cron expression, UTC',
    default: fallback,
    parse: (raw, name) => {
      const value = raw || fallback;
      try {
        assertSchedule(value);
      } catch (error) {
        throw new ConfigError(name, `is not a cron schedule: ${(error as Error).message}`);
      }
      return value;
    },
  };
}

/** Per-chain fee caps in gwei ("1=300,8453=5"), returned in wei. */
function gweiCaps(): Pick<EnvVar<Map<number, bigint>>, 'format' | 'parse'> {
  return {
    format: '`<chainId>=<gwei>`, comma-separated, e.g. `1=300,8453=0.5`',
    parse: (raw, name) => {
      const caps = new Map<number, bigint>();
      for (const part of splitList(raw ?? '')) {
        const match = /^([1-9][0-9]{0,15})=(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,9}))?$/.exec(part);
        if (!match) throw new ConfigError(name, `entry "${part.slice(0, 40)}" is not <chainId>=<gwei>, e.g. "1=300"`);
        const wei = BigInt(match[2]!) * 10n ** 9n + BigInt((match[3] ?? '').padEnd(9, '0'));
        if (wei === 0n) throw new ConfigError(name, `chain ${match[1]} has a zero cap`);
        if (caps.has(Number(match[1]))) throw new ConfigError(name, `chain ${match[1]} is listed twice`);
        caps.set(Number(match[1]), wei);
      }
      return caps;
    },
  };
}

/** Per-chain block counts ("1=64,137=256"); chains not listed get `fallback`. */
function blockCounts(): Pick<EnvVar<Map<number, number>>, 'format' | 'parse'> {
  return {
    format: '`<chainId>=<blocks>`, comma-separated, e.g. `1=64,137=256`',
    parse: (raw, name) => {
      const counts = new Map<number, number>();
      for (const part of splitList(raw ?? '')) {
        const match = /^([1-9][0-9]{0,15})=([0-9]{1,4})$/.exec(part);
        if (!match) throw new ConfigError(name, `entry "${part.slice(0, 40)}" is not <chainId>=<blocks>, e.g. "1=64"`);
        if (counts.has(Number(match[1]))) throw new ConfigError(name, `chain ${match[1]} is listed twice`);
        counts.set(Number(match[1]), Number(match[2]));
      }
      return counts;
    },
  };
}

function cidrs(fallback: string): Pick<EnvVar<Cidr[]>, 'format' | 'parse'> {
  return {
    format: 'comma-separated IP addresses and CIDR ranges (IPv4 and IPv6)',
    parse: (raw, name) => {
      try {
        return parseCidrList(raw ?? fallback);
      } catch {
        throw new ConfigError(name, 'must be a comma-separated list of IP addresses or CIDR ranges');
      }
    },
  };
}

/** An http(s) URL (https in production) without query, fragment or user info; trailing slashes dropped. */
function consoleUrl(): Pick<EnvVar<string | null>, 'format' | 'parse'> {
  return {
    format: 'absolute http(s) URL without query, fragment or user info',
    parse: (value, name, { production }) => {
      const raw = value?.trim();
      if (!raw) return null;
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new ConfigError(name, 'must be an absolute URL such as https://clawd402.example.com');
      }
      if (url.protocol !== 'https:' && (production || url.protocol !== 'http:'))
        throw new ConfigError(name, 'must be https (http allowed outside production)');
      if (url.search || url.hash || url.username || url.password)
        throw new ConfigError(name, 'must have no query, fragment or user info');
      return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
    },
  };
}

/** The variables, grouped by the section of docs/configuration.md they appear in. */
export const ENV = {
  // Server and HTTP
  NODE_ENV: {
    section: 'Server and HTTP',
    description: '`production` turns on every production rule in this table; `test` only lowers the default log level.',
    format: '`development` \\| `test` \\| `production` (any other value counts as `development`)',
    default: 'development',
    production: 'Refuses the embedded launcher (`pnpm start` without configuration).',
    parse: (raw): NodeEnv => (raw === 'production' ? 'production' : raw === 'test' ? 'test' : 'development'),
  },
  HOST: {
    section: 'Server and HTTP',
    description: 'The address the HTTP(S) server listens on.',
    ...text('127.0.0.1', 'host name or IP address'),
  },
  PORT: {
    section: 'Server and HTTP',
    description: 'The port the HTTP(S) server listens on (0: chosen by the OS).',
    ...integer(8402, 0, 65535),
  },
  HEAP_GROWTH_PERCENT: {
    section: 'Server and HTTP',
    description:
      "How far V8 lets the gateway's heap grow past what its last full garbage collection left live before it runs the " +
      'next one, in percent. Lower holds resident memory down for some CPU; `0` leaves it to V8, which under load lets ' +
      'the heap reach several times what is live (measured: docs/capacity.md).',
    format: 'integer 0 or 10–400 %',
    default: '50',
    parse: (raw, name, context) => {
      const percent = integer(50, 0, 400).parse(raw, name, context);
      if (percent !== 0 && percent < 10) throw new ConfigError(name, 'must be 0 (V8 decides) or between 10 and 400');
      return percent;
    },
  },
  LOG_LEVEL: {
    section: 'Server and HTTP',
    description: 'The pino log level.',
    format: 'pino level (`fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`)',
    default: '`info` (`warn` when `NODE_ENV=test`)',
    parse: (raw, _name, { nodeEnv }) => raw ?? (nodeEnv === 'test' ? 'warn' : 'info'),
  },
  LOG_IP_MODE: {
    section: 'Server and HTTP',
    description:
      "Client addresses in log lines (docs/logging.md): `masked` keeps an IPv4 address's /24 (`203.0.113.x`) and an IPv6 address's /48; `full` logs them whole. What the database keeps is unaffected (docs/privacy.md).",
    ...oneOf(['masked', 'full'] as const, 'masked', (raw) => `must be masked or full, got "${raw}"`),
  },
  TLS_CERT_FILE: {
    section: 'Server and HTTP',
    description:
      'Native HTTPS: the PEM certificate chain (TLS ≥ 1.2, ECDHE + AES-GCM only, HSTS on). Set with `TLS_KEY_FILE`.',
    required: 'with `TLS_KEY_FILE`',
    production: 'Required unless `TRUSTED_PROXIES` names a TLS-terminating proxy.',
    ...secretFile(),
  },
  TLS_KEY_FILE: {
    section: 'Server and HTTP',
    description: "Native HTTPS: the certificate's PEM private key. Set with `TLS_CERT_FILE`.",
    required: 'with `TLS_CERT_FILE`',
    production: 'Required unless `TRUSTED_PROXIES` names a TLS-terminating proxy.',
    ...secretFile(),
  },
  HTTP_REDIRECT_PORT: {
    section: 'Server and HTTP',
    description: 'With TLS: a plain-HTTP port that answers every request with a `301` to the HTTPS URL.',
    ...optionalInteger(0, 65535),
  },
  TRUSTED_PROXIES: {
    section: 'Server and HTTP',
    description:
      'Proxies whose `X-Forwarded-For` is believed. Unset: the socket peer is the client. Trusting every address (`*`, `0.0.0.0/0`, `::/0`) is refused, since any client could then forge its address.',
    format: 'comma-separated IP addresses and CIDR ranges',
    production: 'Required unless TLS is on (`TLS_CERT_FILE`, `TLS_KEY_FILE`).',
    parse: (raw, name): string[] => {
      const proxies = splitList(raw ?? '');
      cidrs('').parse(raw, name, { nodeEnv: 'development', production: false });
      if (proxies.some((p) => p === '*' || p === '0.0.0.0/0' || p === '::/0')) {
        throw new ConfigError(
          name,
          'must name the proxies; trusting every address lets any client forge X-Forwarded-For',
        );
      }
      return proxies;
    },
  },
  ADMIN_ALLOWED_IPS: {
    section: 'Server and HTTP',
    description: 'Addresses and ranges that may reach `/admin/*`.',
    default: '127.0.0.1/32,::1/128',
    ...cidrs('127.0.0.1/32,::1/128'),
  },
  ALLOWED_ORIGINS: {
    section: 'Server and HTTP',
    description:
      'Browser origins allowed by CORS. Unset: none. An unlisted origin gets no CORS headers and is logged; any `*` is refused.',
    format: 'comma-separated origins (`scheme://host[:port]`, no path)',
    production: 'Every origin must be `https`.',
    parse: (raw, name, { production }): string[] => {
      const origins = splitList(raw ?? '');
      if (origins.some((o) => o.includes('*')))
        throw new ConfigError(name, 'must list origins; a wildcard is never allowed');
      for (const origin of origins) {
        let parsed: URL;
        try {
          parsed = new URL(origin);
        } catch {
          throw new ConfigError(name, `"${origin}" is not an origin such as https://console.example.com`);
        }
        if (parsed.origin !== origin)
          throw new ConfigError(name, `"${origin}" is not an origin (scheme://host[:port], no path)`);
        if (production && parsed.protocol !== 'https:')
          throw new ConfigError(name, `"${origin}" must be https in production`);
      }
      return origins;
    },
  },
  ALLOWED_METHODS: {
    section: 'Server and HTTP',
    description: 'CORS methods, for the listed origins only.',
    ...list('GET,POST,PUT,DELETE'),
  },
  ALLOWED_HEADERS: {
    section: 'Server and HTTP',
    description: 'CORS request headers, for the listed origins only.',
    ...list('authorization,content-type,idempotency-key'),
  },

  // State: Postgres and Redis
  DATABASE_URL: {
    section: 'State: Postgres and Redis',
    description: 'The Postgres connection URL.',
    required: 'yes, unless `DATABASE_URL_FILE` is set',
    production:
      'Refused when it holds a password: use `DATABASE_URL_FILE` or `PGPASSFILE`. The URL in force (from here or the file) must verify TLS (`sslmode=verify-full`, or `sslmode=verify-ca` with `sslrootcert`) unless its host is loopback or a Unix socket.',
    refuseInProduction: {
      when: urlHasPassword,
      message: 'carries a password in the environment; use DATABASE_URL_FILE or PGPASSFILE in production',
    },
    ...optionalText('postgres:// URL'),
  },
  DATABASE_URL_FILE: {
    section: 'State: Postgres and Redis',
    description: 'A file holding the Postgres URL; it takes precedence over `DATABASE_URL`.',
    ...secretFile((t) => t.trim()),
  },
  DATABASE_POOL_MAX: {
    section: 'State: Postgres and Redis',
    description: 'Connections in the Postgres pool.',
    ...integer(20, 1, 500),
  },
  MIGRATE_ON_START: {
    section: 'State: Postgres and Redis',
    description:
      'Apply pending migrations at start-up. Only the value `false` turns it off; start-up then runs `SELECT 1`.',
    format: '`true` \\| `false`',
    default: 'true',
    parse: (raw): boolean => raw !== 'false',
  },
  REDIS_URL: {
    section: 'State: Postgres and Redis',
    description: 'Redis for rate limits and blocks. Unset: an in-process store (one replica only).',
    required: 'in production, unless `REDIS_URL_FILE` is set',
    production:
      'Required (or `REDIS_URL_FILE`); refused when it holds a password: use `REDIS_URL_FILE`. The URL in force must be `rediss://` (TLS, certificate verified) unless its host is loopback or it is a Unix socket path.',
    refuseInProduction: {
      when: urlHasPassword,
      message: 'carries a password in the environment; use REDIS_URL_FILE in production',
    },
    ...optionalText('redis:// or rediss:// URL'),
  },
  REDIS_URL_FILE: {
    section: 'State: Postgres and Redis',
    description: 'A file holding the Redis URL; it takes precedence over `REDIS_URL`.',
    ...secretFile((t) => t.trim()),
  },

  // Chains and submission
  CHAIN_RPC_URLS: {
    section: 'Chains and submission',
    description:
      'The chains this gateway serves, each with a primary RPC endpoint and fallbacks. Each chain may be listed once, each endpoint once per chain.',
    required: 'yes, unless `CHAIN_RPC_URLS_FILE` is set',
    production: 'Refused when an endpoint holds credentials or a query string (API key): use `CHAIN_RPC_URLS_FILE`.',
    ...chainUrls(),
  },
  CHAIN_RPC_URLS_FILE: {
    section: 'Chains and submission',
    description: 'A file holding `CHAIN_RPC_URLS` (credentials allowed); it takes precedence.',
    ...chainUrlsFile(),
  },
  PRIVATE_RELAY_URLS: {
    section: 'Chains and submission',
    description:
      'Private relays (MEV protection) per chain, for intents at or above `PRIVATE_RELAY_MIN_VALUE_USD`. Each chain must be in `CHAIN_RPC_URLS`.',
    production: 'Refused when an endpoint holds credentials or a query string: use `PRIVATE_RELAY_URLS_FILE`.',
    ...chainUrls(),
  },
  PRIVATE_RELAY_URLS_FILE: {
    section: 'Chains and submission',
    description: 'A file holding `PRIVATE_RELAY_URLS` (credentials allowed); it takes precedence.',
    ...chainUrlsFile(),
  },
  PRIVATE_RELAY_MIN_VALUE_USD: {
    section: 'Chains and submission',
    description: "At or above this USD value an intent goes to its chain's private relay, when it has one.",
    ...usd('1000'),
  },
  CHAIN_MAX_FEE_GWEI: {
    section: 'Chains and submission',
    description: 'Per-chain cap on `maxFeePerGas`. Each chain must be in `CHAIN_RPC_URLS`; unset: no cap.',
    ...gweiCaps(),
  },
  CHAIN_MAX_PRIORITY_FEE_GWEI: {
    section: 'Chains and submission',
    description:
      "Per-chain cap on `maxPriorityFeePerGas`; never above the chain's `CHAIN_MAX_FEE_GWEI`. Unset: no cap.",
    ...gweiCaps(),
  },
  CHAIN_REORG_DEPTH: {
    section: 'Chains and submission',
    description:
      'Per-chain: how many blocks below the head the receipt tracker watches for a reorganisation. A confirmed intent whose block is replaced within that depth goes back to `submitted` and is rebroadcast (docs/submission.md). Chains not listed: 64. `0` turns the watch off for the chain.',
    ...blockCounts(),
  },
  CHAIN_HEALTH_INTERVAL_MS: {
    section: 'Chains and submission',
    description: 'How often every RPC endpoint is probed (`eth_chainId`).',
    ...integer(10_000, 500, 600_000, 'ms'),
  },
  SUBMISSION_STUCK_AFTER_SECONDS: {
    section: 'Chains and submission',
    description: 'A transaction pending this long is rebroadcast or sped up.',
    ...integer(90, 5, 24 * 3600, 's'),
  },
  SUBMISSION_MAX_AUTO_SPEEDUPS: {
    section: 'Chains and submission',
    description: 'Automatic speed-ups per intent (operators may speed up further).',
    ...integer(3, 0, 20),
  },
  SUBMISSION_FEE_BUMP_PERCENT: {
    section: 'Chains and submission',
    description: 'How much a replacement raises both fees (at least 10, the replacement minimum).',
    ...integer(15, 10, 500, '%'),
  },
  TRACKER_INTERVAL_MS: {
    section: 'Chains and submission',
    description: 'How often the tracker polls for receipts.',
    ...integer(1000, 50, 60_000, 'ms'),
  },

  // Signer, tickets and access tokens
  SIGNER_SOCKET: {
    section: 'Signer, tickets and access tokens',
    description: "The path of the signer's Unix socket.",
    required: 'yes',
    ...optionalText('path'),
  },
  TICKET_PRIVATE_KEY_FILE: {
    section: 'Signer, tickets and access tokens',
    description: 'The Ed25519 private key (PKCS8 PEM) that signs tickets; the signer trusts its public key.',
    required: 'yes',
    ...secretFile(),
  },
  JWT_PRIVATE_KEY_FILE: {
    section: 'Signer, tickets and access tokens',
    description: 'The RSA private key (PKCS8 PEM, at least 2048 bits) that signs access tokens.',
    required: 'yes',
    ...secretFile(),
  },
  JWT_PREVIOUS_PUBLIC_KEYS_FILE: {
    section: 'Signer, tickets and access tokens',
    description:
      'SPKI PEM blocks of rotated-out RSA keys (≥ 2048 bits) still accepted during the overlap; published in JWKS, never used to sign.',
    ...namedFile((pemText, name) => {
      try {
        const pems = parseSpkiPemBlocks(pemText);
        for (const pem of pems) loadRsaPublicKey(pem);
        return pems;
      } catch (error) {
        throw new ConfigError(name, (error as Error).message);
      }
    }, 'path to a file of SPKI PEM blocks'),
  },
  JWT_ISSUER: {
    section: 'Signer, tickets and access tokens',
    description: 'The `iss` of access tokens.',
    ...text('clawd402'),
  },
  JWT_AUDIENCE: {
    section: 'Signer, tickets and access tokens',
    description: 'The `aud` of access tokens.',
    ...text('clawd402-api'),
  },
  JWT_EXPIRY: {
    section: 'Signer, tickets and access tokens',
    description: 'Access-token lifetime.',
    ...integer(900, 60, 3600, 's'),
  },
  JWT_REFRESH_EXPIRY: {
    section: 'Signer, tickets and access tokens',
    description: 'Refresh-token lifetime; a refresh token never outlives its session.',
    ...integer(7 * 24 * 3600, 300, 30 * 24 * 3600, 's'),
  },
  SESSION_ABSOLUTE_SECONDS: {
    section: 'Signer, tickets and access tokens',
    description: 'Absolute session lifetime; sessions also end after 15 minutes unused, and a user keeps at most 3.',
    ...integer(24 * 3600, 900, 7 * 24 * 3600, 's'),
  },
  SECRETS_KEY_FILE: {
    section: 'Signer, tickets and access tokens',
    description:
      'A key of 32 bytes (64 hex characters or base64) that seals TOTP and notification secrets at rest (AES-256-GCM). Unset: TOTP enrolment answers `totp_unavailable`.',
    required: 'in production',
    production: 'Required (owners must use TOTP, whose secrets it seals).',
    ...secretFile((key, name) => {
      try {
        return parseSecretsKey(key);
      } catch (error) {
        throw new ConfigError(name, (error as Error).message);
      }
    }),
  },

  // Policy and agent input
  POLICY_FILE: {
    section: 'Policy and agent input',
    description:
      'A YAML or JSON policy set, imported as the first policy version when the database has no active one; once a version is active, the database wins (docs/policy-lifecycle.md).',
    required: 'yes',
    ...optionalText('path to a YAML or JSON file'),
  },
  HYGIENE_CONFIG_FILE: {
    section: 'Policy and agent input',
    description:
      'Agent input hygiene: `memoMaxLength`, `injectionPhrases` (added to the built-in ones) and `canaryTokens` (docs/intent-hygiene.md). A file, not variables, because canary tokens are secrets.',
    default: 'the built-in rules',
    ...(() => {
      const file = namedFile((yaml, name): HygieneRules => {
        try {
          return parseHygieneConfig(yaml);
        } catch (error) {
          if (error instanceof HygieneConfigError) throw new ConfigError(name, error.message);
          throw error;
        }
      }, 'path to a YAML or JSON file');
      return {
        format: file.format,
        parse: (raw: string | undefined, name: string, context: EnvContext): HygieneRules =>
          file.parse(raw, name, context) ?? DEFAULT_HYGIENE_RULES,
      };
    })(),
  },

  // Rate limits
  RATE_LIMIT_IP_PER_MIN: {
    section: 'Rate limits',
    description: 'Per client address (IPv6 per /64), over a sliding minute (docs/rate-limits.md).',
    ...integer(100, ...MINUTE_LIMIT),
  },
  RATE_LIMIT_PRINCIPAL_PER_MIN: {
    section: 'Rate limits',
    description: 'Per API key or user: the refill rate of a token bucket.',
    ...integer(60, ...MINUTE_LIMIT),
  },
  RATE_LIMIT_PRINCIPAL_BURST: {
    section: 'Rate limits',
    description: 'Per API key or user: what the token bucket holds.',
    ...integer(20, ...MINUTE_LIMIT),
  },
  RATE_LIMIT_INTENTS_PER_MIN: {
    section: 'Rate limits',
    description: 'Intent routes, per principal, over a sliding minute.',
    ...integer(30, ...MINUTE_LIMIT),
  },
  RATE_LIMIT_AUTH_PER_MIN: {
    section: 'Rate limits',
    description: 'Auth routes, per principal (or address when unauthenticated), over a sliding minute.',
    ...integer(20, ...MINUTE_LIMIT),
  },
  RATE_LIMIT_ADMIN_PER_MIN: {
    section: 'Rate limits',
    description: 'Admin routes, per principal, over a sliding minute.',
    ...integer(60, ...MINUTE_LIMIT),
  },
  RATE_LIMIT_INTENT_READS_PER_MIN: {
    section: 'Rate limits',
    description:
      "Reads of one's own intents (GET /v1/intents*, event streams and long-polls included), per address and per route and principal, over a sliding minute; they do not draw on the principal's bucket or the address limit.",
    ...integer(600, ...MINUTE_LIMIT),
  },
  RATE_LIMIT_REDIS_PREFIX: {
    section: 'Rate limits',
    description: 'Prefix of every rate-limit key in Redis (installations sharing a Redis use different ones).',
    format: '1–64 characters of `A–Z a–z 0–9 : _ . -`',
    default: 'clawd402:rl:',
    parse: (raw, name): string => {
      const prefix = raw ?? 'clawd402:rl:';
      if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(prefix))
        throw new ConfigError(name, 'must be 1–64 characters of A–Z, a–z, 0–9, ":", "_", "." or "-"');
      return prefix;
    },
  },

  // Money: prices and circuit breakers
  DEV_NATIVE_PRICE_USD: {
    section: 'Money: prices and circuit breakers',
    description:
      "Outside production: the static USD price seeded for each configured chain's native coin when the asset registry has none.",
    format: 'positive USD amount',
    default: '2000 (outside production)',
    production: 'Refused: production prices come from the asset registry (`PUT /admin/assets`).',
    refuseInProduction: {
      when: () => true,
      message: 'is a development default; production prices come from the asset registry (PUT /admin/assets)',
    },
    parse: (raw, name, { production }): string | null => {
      if (production) return null;
      const price = raw ?? '2000';
      if ((parseUsd(price) ?? 0n) === 0n) throw new ConfigError(name, 'must be a positive USD amount');
      return price;
    },
  },
  CIRCUIT_BREAKER_WARNING: {
    section: 'Money: prices and circuit breakers',
    description:
      'Rolling-day spend per scope at which a breaker warns (alert only). The four thresholds must rise: WARNING ≤ SOFT ≤ HARD ≤ EMERGENCY.',
    ...usd('100'),
  },
  CIRCUIT_BREAKER_SOFT: {
    section: 'Money: prices and circuit breakers',
    description: 'Rolling-day spend at which every intent needs a human approval.',
    ...usd('250'),
  },
  CIRCUIT_BREAKER_HARD: {
    section: 'Money: prices and circuit breakers',
    description: 'Rolling-day spend at which only allowlisted recipients under the hard cap are allowed.',
    ...usd('500'),
  },
  CIRCUIT_BREAKER_EMERGENCY: {
    section: 'Money: prices and circuit breakers',
    description: 'Rolling-day spend at which nothing is signed until an owner resets the breaker.',
    ...usd('1000'),
  },
  CIRCUIT_BREAKER_HARD_ALLOWLIST: {
    section: 'Money: prices and circuit breakers',
    description: 'Recipients still allowed in the hard (red) state.',
    format: 'comma-separated addresses',
    parse: (raw, name): Address[] =>
      splitList(raw ?? '').map((a) => {
        if (!isAddress(a, { strict: false })) throw new ConfigError(name, `"${a}" is not an address`);
        return getAddress(a);
      }),
  },
  CIRCUIT_BREAKER_HARD_CAP_USD: {
    section: 'Money: prices and circuit breakers',
    description: 'In the hard state, the most one intent to an allowlisted recipient may be worth.',
    ...usd('10'),
  },
  CIRCUIT_BREAKER_APPROVAL_CHANNELS: {
    section: 'Money: prices and circuit breakers',
    description: 'Notification channels told about intents the soft breaker sends to a human.',
    ...list('', 'comma-separated channel names'),
  },
  CIRCUIT_BREAKER_APPROVAL_TIMEOUT: {
    section: 'Money: prices and circuit breakers',
    description: 'How long such an approval waits before it expires.',
    ...integer(1800, 60, 7 * 24 * 3600, 's'),
  },
  CIRCUIT_BREAKER_CHANNELS: {
    section: 'Money: prices and circuit breakers',
    description: 'Further notification channels told when a breaker rises.',
    ...list('', 'comma-separated channel names'),
  },
  CIRCUIT_BREAKER_WEBHOOK: {
    section: 'Money: prices and circuit breakers',
    description:
      'A webhook told when a breaker rises (provisioned as the channel `circuit-breaker-webhook`). Needs `CIRCUIT_BREAKER_WEBHOOK_SECRET_FILE`.',
    format: 'https URL (http allowed outside production)',
    production: 'Refused: a webhook URL usually embeds its own secret; use `CIRCUIT_BREAKER_WEBHOOK_FILE`.',
    refuseInProduction: {
      when: () => true,
      message: 'production reads the webhook URL from CIRCUIT_BREAKER_WEBHOOK_FILE, not the environment',
    },
    parse: (raw): string | null => raw || null,
  },
  CIRCUIT_BREAKER_WEBHOOK_FILE: {
    section: 'Money: prices and circuit breakers',
    description:
      'A file holding the webhook URL; it takes precedence over `CIRCUIT_BREAKER_WEBHOOK`. Must be https in production.',
    ...secretFile((t) => t.trim()),
  },
  CIRCUIT_BREAKER_WEBHOOK_SECRET_FILE: {
    section: 'Money: prices and circuit breakers',
    description: "The webhook's HMAC secret.",
    required: 'with a breaker webhook',
    ...secretFile((t) => t.trim()),
  },
  CIRCUIT_BREAKER_EMAIL: {
    section: 'Money: prices and circuit breakers',
    description:
      'An address mailed when a breaker rises (provisioned as the channel `circuit-breaker-email`). Needs `SMTP_HOST` and `SMTP_FROM`.',
    format: 'email address',
    parse: (raw): string | null => raw?.trim() || null,
  },
  SMTP_HOST: {
    section: 'Money: prices and circuit breakers',
    description: 'The SMTP server that sends `CIRCUIT_BREAKER_EMAIL`.',
    required: 'with `CIRCUIT_BREAKER_EMAIL`',
    missing: 'is required with CIRCUIT_BREAKER_EMAIL (the SMTP server that sends it)',
    ...optionalText('host name'),
  },
  SMTP_PORT: {
    section: 'Money: prices and circuit breakers',
    description: 'The SMTP port.',
    ...integer(587, 1, 65535),
    default: '465 with `SMTP_TLS=implicit`, else 587',
  },
  SMTP_TLS: {
    section: 'Money: prices and circuit breakers',
    description: 'TLS from the first byte (`implicit`), upgraded (`starttls`), or none.',
    production: 'Refuses `none`.',
    refuseInProduction: { when: (raw) => raw === 'none', message: 'production sends mail over TLS' },
    ...oneOf(['implicit', 'starttls', 'none'], 'starttls', () => 'must be implicit, starttls or none'),
  },
  SMTP_FROM: {
    section: 'Money: prices and circuit breakers',
    description: 'The sender address of breaker mail.',
    required: 'with `CIRCUIT_BREAKER_EMAIL`',
    missing: 'is required with CIRCUIT_BREAKER_EMAIL',
    ...optionalText('email address'),
  },
  SMTP_USERNAME: {
    section: 'Money: prices and circuit breakers',
    description: 'SMTP login name; unset: no authentication.',
    ...optionalText(),
  },
  SMTP_PASSWORD_FILE: {
    section: 'Money: prices and circuit breakers',
    description: 'A file holding the SMTP password.',
    ...secretFile((t) => t.trim()),
  },

  // Notifications and the console
  CONSOLE_BASE_URL: {
    section: 'Notifications and the console',
    description:
      "The operator console's origin (and path prefix); approval links point at `<it>/console/approvals/<id>`. Trailing slashes are dropped.",
    production: 'Must be https.',
    ...consoleUrl(),
  },
  NOTIFY_ALLOW_PRIVATE_ADDRESSES: {
    section: 'Notifications and the console',
    description: 'Deliver notifications to loopback and private addresses (local testing only).',
    format: '`true` \\| `false`',
    default: 'false',
    production: 'Refuses `true`.',
    refuseInProduction: {
      when: (raw) => raw === 'true',
      message:
        'is for local testing; production never delivers notifications to loopback, private or metadata addresses',
    },
    parse: (raw, name): boolean => {
      if (raw !== undefined && raw !== '' && raw !== 'true' && raw !== 'false')
        throw new ConfigError(name, 'must be "true" or "false"');
      return raw === 'true';
    },
  },
  NOTIFY_POLL_INTERVAL_MS: {
    section: 'Notifications and the console',
    description: 'The dispatcher timer (LISTEN/NOTIFY wakes it sooner).',
    ...integer(2000, 100, 60_000, 'ms'),
  },
  NOTIFY_MAX_ATTEMPTS: {
    section: 'Notifications and the console',
    description: 'Delivery attempts before a notification is dead-lettered.',
    ...integer(10, 1, 50),
  },
  NOTIFY_TIMEOUT_MS: {
    section: 'Notifications and the console',
    description: 'Timeout of one delivery attempt.',
    ...integer(10_000, 1000, 60_000, 'ms'),
  },

  // Simulation and swaps
  SIMULATION: {
    section: 'Simulation and swaps',
    description: 'Simulate every transaction before its decision (docs/simulation.md).',
    ...oneOf(['on', 'off'], 'on', (raw) => `must be "on" or "off", got "${raw}"`),
  },
  SIMULATION_GAS_CAP: {
    section: 'Simulation and swaps',
    description: 'Gas per simulated transaction. Unset: the block gas limit.',
    format: 'integer 1–9,999,999,999',
    parse: (cap, name): bigint | null => {
      if (cap !== undefined && cap !== '' && !/^[1-9][0-9]{0,9}$/.test(cap))
        throw new ConfigError(name, 'must be a positive whole number of gas');
      return cap ? BigInt(cap) : null;
    },
  },
  SWAP_ROUTERS: {
    section: 'Simulation and swaps',
    description:
      'A Uniswap V2-style router per chain (docs/swaps.md); each chain must be in `CHAIN_RPC_URLS` and listed once.',
    ...optionalText('`<chainId>=<router address>`, comma-separated'),
  },
  SWAP_MAX_DEADLINE_SECONDS: {
    section: 'Simulation and swaps',
    description: 'The furthest deadline a swap intent may ask for.',
    ...integer(3600, 30, 7 * 24 * 3600, 's'),
  },

  // x402 payments (docs/x402.md)
  X402_ASSETS: {
    section: 'Money: prices and circuit breakers',
    description:
      'The EIP-3009 tokens x402 payments may be made in, per chain (each chain must be in `CHAIN_RPC_URLS`); unset: every x402 payment is refused (`x402_asset_not_configured`).',
    ...optionalText('`<chainId>=<token>|<token>`, comma-separated'),
  },
  X402_PAYEES: {
    section: 'Money: prices and circuit breakers',
    description:
      'Payees listed per resource host: a listed host pays only these (`x402_payee_not_listed`); any other host pays only the payee first seen for it (`x402_payee_changed`).',
    ...optionalText('`<host>=<payee>|<payee>`, comma-separated'),
  },
  X402_MAX_VALIDITY_SECONDS: {
    section: 'Money: prices and circuit breakers',
    description:
      'The longest validity window an x402 authorisation is signed for (`maxTimeoutSeconds` above it is refused).',
    ...integer(600, 10, 24 * 3600, 's'),
  },
  X402_MAX_PAYMENT_USD: {
    section: 'Money: prices and circuit breakers',
    description: 'The most one x402 payment may be worth; above it (or when it cannot be valued) nothing is signed.',
    ...usd('1'),
  },

  // Embedded default and tools (src/dev/embedded.ts, src/cli/*)
  CLAWD402_STATE_DIR: {
    section: 'Embedded default and tools',
    description:
      "`pnpm start` without configuration: where the embedded launcher keeps PGlite, anvil's state, generated keys and dev credentials.",
    ...optionalText('path'),
    default: '`.clawd402/` at the repo root',
  },
  ANVIL_PORT: {
    section: 'Embedded default and tools',
    description: "The embedded launcher's anvil port (when `CHAIN_RPC_URLS` is unset).",
    ...integer(8545, 1, 65535),
  },
  AUDIT_CHECKPOINT_FILE: {
    section: 'Embedded default and tools',
    description:
      "`pnpm audit:verify` away from the signer host: a copy of the signer's `checkpoints.jws`, checked instead of asking the signer over `SIGNER_SOCKET` (docs/audit.md).",
    ...optionalText('path'),
  },
  AUDIT_CHECKPOINT_PUBLIC_KEY_FILE: {
    section: 'Embedded default and tools',
    description:
      "`pnpm audit:verify`: the signer's checkpoint public key (PEM) to pin; required with `AUDIT_CHECKPOINT_FILE`, otherwise compared with the signer's.",
    ...optionalText('path'),
  },
  FAULT_POINT: {
    section: 'Embedded default and tools',
    description:
      'Crash tests only: the process sends itself SIGKILL at this named point of the signing path (`<point>` or `<point>:N`, the N-th time it is reached; docs/recovery.md lists the points).',
    format: 'a point name, optionally `:N`',
    production: 'Refused (and refused in development: only `NODE_ENV=test` accepts it).',
    refuseInProduction: {
      when: () => true,
      message: 'is a test-only crash hook; production never arms it',
    },
    parse: (raw, name, context): FaultPointSpec | null => {
      try {
        return parseFaultPoint(raw, GATEWAY_FAULT_POINTS, context.nodeEnv);
      } catch (error) {
        throw new ConfigError(name, (error as Error).message);
      }
    },
  },
  KILLSWITCH_RELEASE_OWNERS: {
    section: 'Signer, tickets and access tokens',
    description:
      'Distinct owners (each with a TOTP step-up) whose `POST /admin/killswitch/release` it takes to release the kill switch: 1 or 2 (docs/killswitch.md).',
    ...integer(1, 1, 2),
  },
  ALERT_ROUTE_CRITICAL: {
    section: 'Alerts',
    description: 'Notification channels that critical alerts go to at once (docs/incidents.md).',
    ...list('pagerduty,slack', 'comma-separated channel names'),
  },
  ALERT_ROUTE_HIGH: {
    section: 'Alerts',
    description: 'Notification channels that high alerts go to at once.',
    ...list('slack,email', 'comma-separated channel names'),
  },
  ALERT_ROUTE_MEDIUM: {
    section: 'Alerts',
    description: 'Notification channels that medium alerts go to at once (besides the digest; none by default).',
    ...list('', 'comma-separated channel names'),
  },
  ALERT_ROUTE_LOW: {
    section: 'Alerts',
    description:
      'Notification channels that low alerts go to at once (none by default: listed by `GET /admin/alerts` only).',
    ...list('', 'comma-separated channel names'),
  },
  ALERT_DIGEST_CHANNELS: {
    section: 'Alerts',
    description: 'Notification channels that receive the digest of medium alerts.',
    ...list('email', 'comma-separated channel names'),
  },
  ALERT_DIGEST_INTERVAL_SECONDS: {
    section: 'Alerts',
    description: 'The digest goes out once the oldest medium alert not yet in one is this old (daily by default).',
    ...integer(86_400, 60, 7 * 86_400, 's'),
  },
  ALERT_DEDUP_SECONDS: {
    section: 'Alerts',
    description:
      'A repeat of the same alert kind and subject within this window is counted on the first, not sent again.',
    ...integer(900, 1, 7 * 86_400, 's'),
  },
  ALERT_WATCH_INTERVAL_MS: {
    section: 'Alerts',
    description:
      'How often the alert watch looks for failure bursts, gas spikes, rapid spending, new recipients, expiring approvals and RPC failover.',
    ...integer(30_000, 100, 3_600_000, 'ms'),
  },
  ALERT_FAILED_TX_THRESHOLD: {
    section: 'Alerts',
    description:
      'Failed intents of one agent or one destination address within `ALERT_FAILED_TX_WINDOW_SECONDS` that raise `transactions_failing`.',
    ...integer(3, 1, 1000),
  },
  ALERT_FAILED_TX_WINDOW_SECONDS: {
    section: 'Alerts',
    description: 'The window of `ALERT_FAILED_TX_THRESHOLD` (also how recent a fee must be to count as a spike).',
    ...integer(300, 10, 86_400, 's'),
  },
  ALERT_GAS_SPIKE_PERCENT: {
    section: 'Alerts',
    description:
      "A max fee per gas above this percentage of the chain's trailing median (last 50 intents) raises `gas_spike`.",
    ...integer(150, 101, 10_000, '%'),
  },
  ALERT_HOURLY_SPEND_USD: {
    section: 'Alerts',
    description: "An agent's spend in the last hour above this raises `rapid_spending`.",
    ...usd('1000'),
  },
  ALERT_APPROVAL_EXPIRING_SECONDS: {
    section: 'Alerts',
    description: 'A pending approval that expires within this raises `approval_expiring`.',
    ...integer(900, 10, 86_400, 's'),
  },

  // Incidents (docs/incidents.md)
  INCIDENT_WATCH_INTERVAL_MS: {
    section: 'Incidents',
    description: 'How often the incident watch runs its detection rules (and groups alerts under open incidents).',
    ...integer(30_000, 100, 3_600_000, 'ms'),
  },
  INCIDENT_RESPONSES: {
    section: 'Incidents',
    description:
      'The automatic responses per detection rule, over the defaults `new_network_burst=pause_key+block_network,cost_spike=breaker_soft,error_rate=none,policy_bypass=pause_key`. Responses: `pause_key`, `pause_agent`, `block_network`, `breaker_soft`, joined with `+`; `none` for none.',
    format: '`<rule>=<response>[+<response>…]`, comma-separated',
    default: '(the defaults)',
    parse: (raw, name) => {
      const parsed = parseIncidentResponses(raw ?? '');
      if (!parsed.ok) throw new ConfigError(name, parsed.reason);
      return parsed.value;
    },
  },
  INCIDENT_BLOCK_SECONDS: {
    section: 'Incidents',
    description: 'How long a `block_network` response blocks the network for logins and API-key exchanges.',
    ...integer(86_400, 60, 30 * 86_400, 's'),
  },
  INCIDENT_BURST_INTENTS: {
    section: 'Incidents',
    description:
      'Intents of an API key within `INCIDENT_BURST_WINDOW_SECONDS` of its first exchange from a new network (/24, /64) or user agent that open `new_network_burst`.',
    ...integer(10, 1, 100_000),
  },
  INCIDENT_BURST_WINDOW_SECONDS: {
    section: 'Incidents',
    description: 'The window of `INCIDENT_BURST_INTENTS`.',
    ...integer(300, 10, 86_400, 's'),
  },
  INCIDENT_COST_FACTOR_PERCENT: {
    section: 'Incidents',
    description:
      "An agent's spend in the last hour above this percentage of its hourly average over the 7 days before opens `cost_spike`.",
    ...integer(300, 101, 100_000, '%'),
  },
  INCIDENT_COST_MIN_USD: {
    section: 'Incidents',
    description:
      'The least spend in the last hour that can open `cost_spike`. An agent with no spend in the 7 days before has no average and never opens it (the cost breakers bound a new agent).',
    ...usd('10'),
  },
  INCIDENT_ERROR_RATE_PERCENT: {
    section: 'Incidents',
    description:
      "More than this percentage of an agent's intents of the last `INCIDENT_ERROR_WINDOW_SECONDS` rejected or failed opens `error_rate`.",
    ...integer(10, 1, 100, '%'),
  },
  INCIDENT_ERROR_WINDOW_SECONDS: {
    section: 'Incidents',
    description: 'The window of `INCIDENT_ERROR_RATE_PERCENT`.',
    ...integer(300, 10, 86_400, 's'),
  },
  INCIDENT_ERROR_MIN_INTENTS: {
    section: 'Incidents',
    description: 'The fewest intents in the window for `error_rate` to be judged at all.',
    ...integer(20, 1, 100_000),
  },
  INCIDENT_BYPASS_THRESHOLD: {
    section: 'Incidents',
    description:
      'Policy-bypass attempts by one API key within `INCIDENT_BYPASS_WINDOW_SECONDS` (raw-hash or foreign-chain signing, refused contract calls) that open `policy_bypass`.',
    ...integer(3, 1, 1000),
  },
  INCIDENT_BYPASS_WINDOW_SECONDS: {
    section: 'Incidents',
    description: 'The window of `INCIDENT_BYPASS_THRESHOLD`.',
    ...integer(900, 10, 86_400, 's'),
  },

  // Jobs, retention and backups (docs/jobs.md)
  JOB_RUNNER: {
    section: 'Jobs, retention and backups',
    description:
      'Whether this replica claims and runs scheduled jobs (retention, audit verification, backups). Each occurrence runs on exactly one replica that has it on.',
    ...oneOf(['on', 'off'] as const, 'on', (raw) => `must be on or off, got "${raw}"`),
  },
  JOBS_POLL_INTERVAL_MS: {
    section: 'Jobs, retention and backups',
    description: 'How often the job runner looks for a due job (a run-now request wakes it at once on its replica).',
    ...integer(5000, 50, 600_000, 'ms'),
  },
  JOBS_LEASE_MS: {
    section: 'Jobs, retention and backups',
    description:
      'How long a claimed job stays with its replica without renewal (renewed every third of it while the job runs); a replica killed mid-job leaves the job to another after this.',
    ...integer(60_000, 1000, 3_600_000, 'ms'),
  },
  JOBS_RETRY_BASE_MS: {
    section: 'Jobs, retention and backups',
    description: 'First retry of a failed job after this, doubling per attempt (at most 3 attempts per occurrence).',
    ...integer(30_000, 100, 3_600_000, 'ms'),
  },
  RETENTION_SCHEDULE: {
    section: 'Jobs, retention and backups',
    description: 'When the retention purge runs: a cron expression in UTC (5 fields, or 6 with seconds first).',
    ...cronSchedule('17 * * * *'),
  },
  RETENTION_SESSIONS_DAYS: {
    section: 'Jobs, retention and backups',
    description: 'Sessions and refresh tokens are purged this long after they expire.',
    ...integer(7, 0, 3650, 'days'),
  },
  RETENTION_AUTH_FAILURES_DAYS: {
    section: 'Jobs, retention and backups',
    description: 'Failed logins and key exchanges are purged this long after they happened.',
    ...integer(30, 1, 3650, 'days'),
  },
  RETENTION_IP_BLOCKS_DAYS: {
    section: 'Jobs, retention and backups',
    description: 'IP blocks are purged this long after they ended.',
    ...integer(30, 1, 3650, 'days'),
  },
  RETENTION_OUTBOX_DELIVERED_DAYS: {
    section: 'Jobs, retention and backups',
    description:
      'Delivered notifications are purged this long after delivery (pending ones and dead letters are kept).',
    ...integer(30, 1, 3650, 'days'),
  },
  RETENTION_SPEND_BUCKETS_HOURS: {
    section: 'Jobs, retention and backups',
    description:
      'Spend buckets are purged this long after their minute (`spend_minutes`) or the end of their hour (`spend_hours`); at least the longest spend window (24 h).',
    ...integer(48, 25, 87_600, 'hours'),
  },
  RETENTION_ALERTS_DAYS: {
    section: 'Jobs, retention and backups',
    description: 'Alerts are purged this long after they were raised. The audit chain is never purged.',
    ...integer(365, 1, 36_500, 'days'),
  },
  RETENTION_PERSONAL_DATA_DAYS: {
    section: 'Jobs, retention and backups',
    description:
      'Sealed personal values kept beside the audit chain (IP addresses, user agents, user names; docs/privacy.md) are purged this long after they were written; the audit records keep their refs and still verify.',
    ...integer(365, 1, 36_500, 'days'),
  },
  RETENTION_BATCH_SIZE: {
    section: 'Jobs, retention and backups',
    description: 'Rows per DELETE statement of the purge (each batch is its own short statement).',
    ...integer(1000, 1, 100_000, 'rows'),
  },
  AUDIT_VERIFY_SCHEDULE: {
    section: 'Jobs, retention and backups',
    description:
      'When the audit chain and its checkpoints are verified (what `pnpm audit:verify` checks); a failure raises a critical alert.',
    ...cronSchedule('23 3 * * *'),
  },
  BACKUP_SCHEDULE: {
    section: 'Jobs, retention and backups',
    description:
      'When `clawd402 backup create` runs, if `BACKUP_LOCATION` is set (otherwise the run is recorded skipped).',
    ...cronSchedule('41 2 * * *'),
  },
  BACKUP_LOCATION: {
    section: 'Jobs, retention and backups',
    description:
      'Where scheduled backups go: a directory or `s3://bucket/prefix` (docs/recovery.md). Unset: no scheduled backups.',
    ...optionalText('path or s3://bucket/prefix'),
  },
  BACKUP_RECIPIENT: {
    section: 'Jobs, retention and backups',
    description:
      'The age recipients (public keys) scheduled backups are encrypted to; required with `BACKUP_LOCATION` unless `BACKUP_RECIPIENTS_FILE` is set.',
    ...list('', 'comma-separated age1… keys'),
  },
  BACKUP_RECIPIENTS_FILE: {
    section: 'Jobs, retention and backups',
    description: 'A file of age recipients, one a line, for scheduled backups.',
    ...optionalText('path'),
  },
  BACKUP_S3_ENDPOINT: {
    section: 'Jobs, retention and backups',
    description: 'S3-compatible endpoint for an `s3://` backup location (credentials from the AWS SDK chain).',
    ...optionalText('URL'),
  },
  BACKUP_WORK_DIR: {
    section: 'Jobs, retention and backups',
    description: 'Where a scheduled backup stages plaintext (a private temp dir inside it, removed after).',
    ...optionalText('path'),
  },
  SIGNER_KEY_DIR: {
    section: 'Jobs, retention and backups',
    description: "The signer's key directory, included in scheduled backups when the signer shares this host.",
    ...optionalText('path'),
  },
  SIGNER_JOURNAL: {
    section: 'Jobs, retention and backups',
    description: "The signer's journal, included in scheduled backups when the signer shares this host.",
    ...optionalText('path'),
  },
  KEY_AGE_SCHEDULE: {
    section: 'Jobs, retention and backups',
    description:
      'When the `key-age` job looks for keys due for rotation (agent API keys, the access-token and ticket keys, signer keys, notification secrets) and raises alerts.',
    ...cronSchedule('7 6 * * *'),
  },
  KEY_AGE_DUE_DAYS: {
    section: 'Jobs, retention and backups',
    description:
      'A key in force this long is due for rotation: a medium `key_rotation_due` alert. The three ages must rise: DUE ≤ OVERDUE ≤ CRITICAL.',
    ...integer(80, 1, 3650, 'days'),
  },
  KEY_AGE_OVERDUE_DAYS: {
    section: 'Jobs, retention and backups',
    description: 'A key in force this long is overdue: a high `key_rotation_overdue` alert.',
    ...integer(90, 1, 3650, 'days'),
  },
  KEY_AGE_CRITICAL_DAYS: {
    section: 'Jobs, retention and backups',
    description: 'A key in force this long is critically overdue: a critical `key_rotation_critical` alert.',
    ...integer(100, 1, 3650, 'days'),
  },
  SECURITY_REPORT_SCHEDULE: {
    section: 'Jobs, retention and backups',
    description:
      'When the weekly security report (failed logins, blocks, quarantines, incidents, key ages, breaker changes, score, dependency audit date) for the 7 days before the occurrence is sent to `SECURITY_REPORT_CHANNELS`.',
    ...cronSchedule('0 8 * * 1'),
  },
  SECURITY_REPORT_CHANNELS: {
    section: 'Jobs, retention and backups',
    description:
      'Notification channels the weekly security report goes to (through the outbox, like alerts); empty: kept for `GET /admin/security-report` only.',
    ...list('email', 'comma-separated channel names'),
  },
  DEPENDENCY_AUDIT_FILE: {
    section: 'Jobs, retention and backups',
    description:
      'The `dependency-audit.json` that `scripts/supply-chain.sh` writes (date and outcome of `pnpm audit`), shipped with the build; the security report quotes it. Unset: the report says the date is not recorded.',
    ...optionalText('path'),
  },
  BACKUP_CLI: {
    section: 'Jobs, retention and backups',
    description: 'The `clawd402` executable scheduled backups run (default: the workspace CLI, apps/cli, through tsx).',
    ...optionalText('path'),
  },
} as const satisfies Record<string, EnvVar<unknown>>;

export type EnvName = keyof typeof ENV;
export type EnvValue<K extends EnvName> = ReturnType<(typeof ENV)[K]['parse']>;

export interface EnvReader {
  readonly context: EnvContext;
  /** The variable's value: parsed, checked, with its default; production refusals applied first. */
  <K extends EnvName>(name: K): EnvValue<K>;
  /** The same, but `fallback` when the variable is unset or empty (for defaults that depend on another setting). */
  or<K extends EnvName>(name: K, fallback: EnvValue<K>): EnvValue<K>;
  /** The same, but a missing value (null, undefined, empty) stops the boot with the variable's `missing` message. */
  require<K extends EnvName>(name: K): NonNullable<EnvValue<K>>;
  /** Whether the variable is set to a non-empty value. */
  isSet(name: EnvName): boolean;
}

/** The only way the gateway reads its environment: every name is a row of `ENV`. */
export function envReader(env: Env): EnvReader {
  const nodeEnv = ENV.NODE_ENV.parse(env.NODE_ENV);
  const context: EnvContext = { nodeEnv, production: nodeEnv === 'production' };
  const read = <K extends EnvName>(name: K): EnvValue<K> => {
    const spec: EnvVar<unknown> = ENV[name];
    const raw = env[name];
    if (
      context.production &&
      spec.refuseInProduction &&
      raw !== undefined &&
      raw !== '' &&
      spec.refuseInProduction.when(raw)
    ) {
      throw new ConfigError(name, spec.refuseInProduction.message);
    }
    return spec.parse(raw, name, context) as EnvValue<K>;
  };
  return Object.assign(read, {
    context,
    or: <K extends EnvName>(name: K, fallback: EnvValue<K>): EnvValue<K> =>
      env[name] === undefined || env[name] === '' ? fallback : read(name),
    require: <K extends EnvName>(name: K): NonNullable<EnvValue<K>> => {
      const value = read(name);
      if (value === null || value === undefined || value === '')
        throw new ConfigError(name, (ENV[name] as EnvVar<unknown>).missing ?? 'is required');
      return value;
    },
    isSet: (name: EnvName): boolean => Boolean(env[name]),
  });
}

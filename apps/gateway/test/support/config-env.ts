import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTicketKeyPair } from '@clawd402/signer-client';
import { ConfigError, loadConfig, type GatewayConfig } from '../../src/config.ts';

/** A temporary folder with the key and policy files a configuration names, and the environments that load with them. */
export interface ConfigFixture {
  readonly dir: string;
  /** Write `text` to a 0600 file in the folder; returns its path. */
  readonly file: (name: string, text: string) => string;
  /** The least that loads outside production (NODE_ENV=test). */
  readonly test: Record<string, string>;
  /** The least that loads in production: Redis, a TLS-terminating proxy, a secrets key, no local addresses. */
  readonly production: Record<string, string>;
  readonly remove: () => void;
}

export function configFixture(prefix = 'clawd402-config-'): ConfigFixture {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const keys = {
    TICKET_PRIVATE_KEY_FILE: file('ticket.pem', generateTicketKeyPair().privateKeyPem),
    JWT_PRIVATE_KEY_FILE: file(
      'jwt.pem',
      generateKeyPairSync('rsa', { modulusLength: 2048 })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    ),
    POLICY_FILE: file('policy.yaml', 'policies:\n  - name: deny\n    conditions: {}\n    action: reject\n'),
  };
  return {
    dir,
    file,
    test: {
      NODE_ENV: 'test',
      DATABASE_URL: 'postgres://clawd402@127.0.0.1:5432/clawd402',
      CHAIN_RPC_URLS: '31337=http://127.0.0.1:8545',
      SIGNER_SOCKET: '/tmp/signer.sock',
      ...keys,
    },
    production: {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://clawd402@db.internal:5432/clawd402?sslmode=verify-full',
      REDIS_URL: 'rediss://redis.internal:6379',
      CHAIN_RPC_URLS: '8453=https://rpc.example.com',
      SIGNER_SOCKET: '/run/clawd402-signer/signer.sock',
      ...keys,
      TRUSTED_PROXIES: '10.0.0.2',
      SECRETS_KEY_FILE: file('secrets.key', 'ab'.repeat(32)),
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Loading `env` (with `overrides`) fails at boot with a ConfigError naming `variable`. */
export function assertConfigRefused(
  env: Record<string, string | undefined>,
  variable: string,
  overrides: Partial<GatewayConfig> = {},
): void {
  assert.throws(
    () => loadConfig(env, overrides),
    (error: unknown) => error instanceof ConfigError && error.variable === variable,
    `expected a ConfigError naming ${variable}`,
  );
}

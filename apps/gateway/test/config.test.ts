import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, loadConfig } from '../src/config.ts';
import { configFixture } from './support/config-env.ts';

/** Production start-up refuses each unsafe setting with an error naming it (STYLE: config fails at boot). */
describe('production start-up validation', () => {
  const fixture = configFixture('clawd402-config-');
  const file = fixture.file;
  let good: Record<string, string>;
  before(() => {
    good = fixture.production;
  });
  after(() => fixture.remove());

  const refuses = (env: Record<string, string | undefined>, variable: string, overrides = {}) => {
    assert.throws(
      () => loadConfig(env, overrides),
      (error: unknown) => error instanceof ConfigError && error.variable === variable,
      `expected a ConfigError naming ${variable}`,
    );
  };

  test('a complete production configuration loads', () => {
    const config = loadConfig(good);
    assert.equal(config.env, 'production');
    assert.deepEqual(config.trustedProxies, ['10.0.0.2']);
  });
  test('the embedded default is refused', () => refuses(good, 'NODE_ENV', { mode: 'embedded' }));
  test('a placeholder secret file is refused', () =>
    refuses({ ...good, TICKET_PRIVATE_KEY_FILE: file('placeholder', 'changeme\n') }, 'TICKET_PRIVATE_KEY_FILE'));
  test('an empty secret file is refused', () =>
    refuses({ ...good, JWT_PRIVATE_KEY_FILE: file('empty', '') }, 'JWT_PRIVATE_KEY_FILE'));
  test('a missing secret file is refused', () =>
    refuses({ ...good, JWT_PRIVATE_KEY_FILE: undefined }, 'JWT_PRIVATE_KEY_FILE'));
  test('an RSA key under 2048 bits is refused', () =>
    refuses(
      {
        ...good,
        JWT_PRIVATE_KEY_FILE: file(
          'rsa1024.pem',
          generateKeyPairSync('rsa', { modulusLength: 1024 })
            .privateKey.export({ type: 'pkcs8', format: 'pem' })
            .toString(),
        ),
      },
      'JWT_PRIVATE_KEY_FILE',
    ));
  test('a non-RSA access-token key is refused', () =>
    refuses(
      {
        ...good,
        JWT_PRIVATE_KEY_FILE: file(
          'ec.pem',
          generateKeyPairSync('ec', { namedCurve: 'P-256' })
            .privateKey.export({ type: 'pkcs8', format: 'pem' })
            .toString(),
        ),
      },
      'JWT_PRIVATE_KEY_FILE',
    ));
  test('wildcard CORS is refused', () => refuses({ ...good, ALLOWED_ORIGINS: '*' }, 'ALLOWED_ORIGINS'));
  test('a wildcard inside an origin is refused', () =>
    refuses({ ...good, ALLOWED_ORIGINS: 'https://*.example.com' }, 'ALLOWED_ORIGINS'));
  test('a plain-http origin is refused in production', () =>
    refuses({ ...good, ALLOWED_ORIGINS: 'http://console.example.com' }, 'ALLOWED_ORIGINS'));
  test('TLS off without a trusted proxy is refused', () =>
    refuses({ ...good, TRUSTED_PROXIES: undefined }, 'TLS_CERT_FILE'));
  test('trusting every address as a proxy is refused', () =>
    refuses({ ...good, TRUSTED_PROXIES: '0.0.0.0/0' }, 'TRUSTED_PROXIES'));
  test('a password inside DATABASE_URL is refused', () =>
    refuses({ ...good, DATABASE_URL: 'postgres://u:hunter2@db/x' }, 'DATABASE_URL'));
  test('a password inside REDIS_URL is refused', () =>
    refuses({ ...good, REDIS_URL: 'redis://:hunter2@redis:6379' }, 'REDIS_URL'));
  test('no Redis in production is refused (the in-process store is for development)', () =>
    refuses({ ...good, REDIS_URL: undefined }, 'REDIS_URL'));
  test('a malformed admin allowlist is refused', () =>
    refuses({ ...good, ADMIN_ALLOWED_IPS: '10.0.0.0/33' }, 'ADMIN_ALLOWED_IPS'));
  test('no secrets key in production is refused (owners need TOTP)', () =>
    refuses({ ...good, SECRETS_KEY_FILE: undefined }, 'SECRETS_KEY_FILE'));
  test('a secrets key that is not 32 bytes is refused', () =>
    refuses({ ...good, SECRETS_KEY_FILE: file('short.key', 'abcd1234') }, 'SECRETS_KEY_FILE'));
  test('an out-of-range port is refused', () => refuses({ ...good, PORT: '70000' }, 'PORT'));
  test('outside production the same TLS-less config starts (development convenience), never with a wildcard origin', () => {
    assert.equal(loadConfig({ ...good, NODE_ENV: 'development', TRUSTED_PROXIES: undefined }).env, 'development');
    refuses({ ...good, NODE_ENV: 'development', ALLOWED_ORIGINS: '*' }, 'ALLOWED_ORIGINS');
  });
});

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { loadConfig } from '../src/config.ts';
import { assertConfigRefused, configFixture } from './support/config-env.ts';

/** Production start-up refuses each unsafe setting with an error naming it (STYLE: config fails at boot). */
describe('production start-up validation', () => {
  const fixture = configFixture('clawd402-config-');
  const file = fixture.file;
  let good: Record<string, string>;
  before(() => {
    good = fixture.production;
  });
  after(() => fixture.remove());

  test('a complete production configuration loads', () => {
    const config = loadConfig(good);
    assert.equal(config.env, 'production');
    assert.deepEqual(config.trustedProxies, ['10.0.0.2']);
  });
  test('the embedded default is refused', () => assertConfigRefused(good, 'NODE_ENV', { mode: 'embedded' }));
  test('a placeholder secret file is refused', () =>
    assertConfigRefused(
      { ...good, TICKET_PRIVATE_KEY_FILE: file('placeholder', 'changeme\n') },
      'TICKET_PRIVATE_KEY_FILE',
    ));
  test('an empty secret file is refused', () =>
    assertConfigRefused({ ...good, JWT_PRIVATE_KEY_FILE: file('empty', '') }, 'JWT_PRIVATE_KEY_FILE'));
  test('a missing secret file is refused', () =>
    assertConfigRefused({ ...good, JWT_PRIVATE_KEY_FILE: undefined }, 'JWT_PRIVATE_KEY_FILE'));
  test('an RSA key under 2048 bits is refused', () =>
    assertConfigRefused(
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
    assertConfigRefused(
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
  test('a secrets key that is not 32 bytes is refused', () =>
    assertConfigRefused({ ...good, SECRETS_KEY_FILE: file('short.key', 'abcd1234') }, 'SECRETS_KEY_FILE'));
  /** Each unsafe setting (changed from the good production environment) and the variable its refusal must name. */
  const UNSAFE: [string, Record<string, string | undefined>, string][] = [
    ['wildcard CORS is refused', { ALLOWED_ORIGINS: '*' }, 'ALLOWED_ORIGINS'],
    ['a wildcard inside an origin is refused', { ALLOWED_ORIGINS: 'https://*.example.com' }, 'ALLOWED_ORIGINS'],
    [
      'a plain-http origin is refused in production',
      { ALLOWED_ORIGINS: 'http://console.example.com' },
      'ALLOWED_ORIGINS',
    ],
    ['TLS off without a trusted proxy is refused', { TRUSTED_PROXIES: undefined }, 'TLS_CERT_FILE'],
    ['trusting every address as a proxy is refused', { TRUSTED_PROXIES: '0.0.0.0/0' }, 'TRUSTED_PROXIES'],
    ['a password inside DATABASE_URL is refused', { DATABASE_URL: 'postgres://u:hunter2@db/x' }, 'DATABASE_URL'],
    ['a password inside REDIS_URL is refused', { REDIS_URL: 'redis://:hunter2@redis:6379' }, 'REDIS_URL'],
    [
      'no Redis in production is refused (the in-process store is for development)',
      { REDIS_URL: undefined },
      'REDIS_URL',
    ],
    ['a malformed admin allowlist is refused', { ADMIN_ALLOWED_IPS: '10.0.0.0/33' }, 'ADMIN_ALLOWED_IPS'],
    ['no secrets key in production is refused (owners need TOTP)', { SECRETS_KEY_FILE: undefined }, 'SECRETS_KEY_FILE'],
    ['an out-of-range port is refused', { PORT: '70000' }, 'PORT'],
  ];
  for (const [name, changes, variable] of UNSAFE)
    test(name, () => assertConfigRefused({ ...good, ...changes }, variable));
  test('outside production the same TLS-less config starts (development convenience), never with a wildcard origin', () => {
    assert.equal(loadConfig({ ...good, NODE_ENV: 'development', TRUSTED_PROXIES: undefined }).env, 'development');
    assertConfigRefused({ ...good, NODE_ENV: 'development', ALLOWED_ORIGINS: '*' }, 'ALLOWED_ORIGINS');
  });
});

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ConfigError, loadConfig } from '../src/config.ts';
import { TRANSPORT_REFUSALS } from '../src/config/transport-security.ts';
import { TSX_LOADER } from '../src/dev/signer-process.ts';
import { configFixture } from './support/config-env.ts';

const DB_REFUSAL = `DATABASE_URL: ${TRANSPORT_REFUSALS.DATABASE_URL}`;
const REDIS_REFUSAL = `REDIS_URL: ${TRANSPORT_REFUSALS.REDIS_URL}`;

/**
 * SECURITY: production never talks to its database or cache in plaintext across a network. A DATABASE_URL without
 * verified TLS (sslmode=verify-full, or verify-ca with sslrootcert) and a REDIS_URL that is not rediss:// stop the
 * boot with their own sentence, unless the host is loopback or a Unix socket. The sentences never quote the URL.
 */
describe('SECURITY: production refuses plaintext database and Redis connections to remote hosts', () => {
  const fixture = configFixture('clawd402-transport-');
  let good: Record<string, string>;
  before(() => {
    good = fixture.production;
  });
  after(() => fixture.remove());

  const refusedWith = (env: Record<string, string | undefined>, variable: string, message: string): void => {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => error instanceof ConfigError && error.variable === variable && error.message === message,
      `expected "${message}"`,
    );
  };

  for (const url of [
    'postgres://clawd402@db.internal:5432/clawd402',
    'postgres://clawd402@db.internal:5432/clawd402?sslmode=disable',
    'postgres://clawd402@db.internal:5432/clawd402?sslmode=require',
    'postgres://clawd402@db.internal:5432/clawd402?sslmode=prefer',
    'postgres://clawd402@db.internal:5432/clawd402?sslmode=no-verify',
    'postgres://clawd402@db.internal:5432/clawd402?sslmode=verify-ca',
    'postgres://clawd402@10.0.0.5:5432/clawd402?uselibpqcompat=true&sslmode=require',
    'postgresql://clawd402@db.internal/clawd402?host=db.other.internal&sslmode=allow',
  ]) {
    test(`DATABASE_URL ${url.replace(/^.*@/, '…@')} is refused`, () =>
      refusedWith({ ...good, DATABASE_URL: url }, 'DATABASE_URL', DB_REFUSAL));
  }

  test('a plaintext URL read from DATABASE_URL_FILE is refused just the same, and its password never shows', () => {
    // The one fake credential the secret scan allows (.secretlintrc.json): a remote host, a password, no TLS.
    const path = fixture.file('db-url', 'postgres://u:hunter2@db/x\n');
    try {
      loadConfig({ ...good, DATABASE_URL: undefined, DATABASE_URL_FILE: path });
      assert.fail('loaded');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, DB_REFUSAL);
      assert.ok(!error.message.includes('hunter2'));
    }
  });

  for (const url of ['redis://redis.internal:6379', 'redis://10.1.2.3:6379/0', 'redis://[2001:db8::7]:6379']) {
    test(`REDIS_URL ${url} is refused with its own sentence`, () =>
      refusedWith({ ...good, REDIS_URL: url }, 'REDIS_URL', REDIS_REFUSAL));
  }

  test('a plaintext Redis URL read from REDIS_URL_FILE is refused', () =>
    refusedWith(
      { ...good, REDIS_URL: undefined, REDIS_URL_FILE: fixture.file('redis-url', 'redis://:pw@redis.internal:6379') },
      'REDIS_URL',
      REDIS_REFUSAL,
    ));

  test('verified TLS, loopback hosts and Unix sockets load', () => {
    for (const DATABASE_URL of [
      'postgres://clawd402@db.internal:5432/clawd402?sslmode=verify-full',
      'postgres://clawd402@db.internal:5432/clawd402?sslmode=verify-ca&sslrootcert=/etc/ssl/db-ca.pem',
      'postgres://clawd402@127.0.0.1:5432/clawd402',
      'postgres://clawd402@localhost/clawd402',
      'postgres://clawd402@[::1]:5432/clawd402',
      'postgres://clawd402@/clawd402?host=/run/postgresql',
      'socket:/run/postgresql?db=clawd402',
    ])
      assert.equal(loadConfig({ ...good, DATABASE_URL }).databaseUrl, DATABASE_URL);
    for (const REDIS_URL of [
      'rediss://redis.internal:6380',
      'redis://127.0.0.1:6379',
      'redis://localhost:6379',
      '/run/redis/redis.sock',
    ])
      assert.equal(loadConfig({ ...good, REDIS_URL }).redisUrl, REDIS_URL);
  });

  test('outside production the same plaintext URLs load (development convenience)', () => {
    const config = loadConfig({
      ...good,
      NODE_ENV: 'development',
      DATABASE_URL: 'postgres://clawd402@db.internal:5432/clawd402',
      REDIS_URL: 'redis://redis.internal:6379',
    });
    assert.equal(config.env, 'development');
  });

  test('the server process stops at start-up with exit 78 and the refusal on stderr, before connecting anywhere', async () => {
    const env = { ...process.env, ...good, DATABASE_URL: 'postgres://clawd402@db.invalid:5432/clawd402' };
    const child = spawn(
      process.execPath,
      ['--import', TSX_LOADER, new URL('../src/server.ts', import.meta.url).pathname],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 78);
    assert.ok(stderr.includes(`clawd402: configuration error: ${DB_REFUSAL}`), stderr);
  });
});

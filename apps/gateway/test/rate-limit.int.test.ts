/**
 * Rate limits against real Redis and Postgres (docs/rate-limits.md): one bucket per client however it rotates
 * X-Forwarded-For or its IPv6 interface id; route variants share a bucket; principals and route classes; headers;
 * /health exempt; progressive blocks with an injected clock; fail open with a log and a metric when Redis dies.
 * Each app gets its own Redis key prefix, so parallel test files sharing the Redis never see each other's counts.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Address } from 'viem';
import { ANVIL_ACCOUNTS, createTestDatabase, testRedisUrl, type TestDatabase } from '@clawd402/testkit';
import { buildApp } from '../src/app.ts';
import { loadConfig, type GatewayConfig } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { createAgentWithKey } from '../src/repositories/agents-repository.ts';
import { createUser } from '../src/repositories/users-repository.ts';
import { hashPassword } from '../src/lib/api-keys.ts';
import { configFixture, type ConfigFixture } from './support/config-env.ts';

const PASSWORD = 'correct horse battery staple';
const START = Date.UTC(2030, 0, 1); // the injected clock's epoch; only rate limits read it
/** A made-up key of the right shape (never issued): what an attacker would spray at /auth/token. */
const BOGUS_API_KEY = `c402_0123456789abcdef_${'Zq9'.repeat(14)}x`;

interface Harness {
  app: FastifyInstance;
  logs: Record<string, unknown>[];
  clock: { now: number };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

describe('rate limits', () => {
  let fixture: ConfigFixture;
  let db: TestDatabase;
  let pool: pg.Pool;
  let base: GatewayConfig;
  const apps: FastifyInstance[] = [];
  let agentKey: string;
  let otherAgentKey: string;

  before(async () => {
    fixture = configFixture('clawd402-rl-');
    db = await createTestDatabase();
    pool = createPool(db.url, 4);
    await migrate(pool);
    base = loadConfig({
      ...fixture.test,
      LOG_LEVEL: 'warn',
      DATABASE_URL: db.url,
      REDIS_URL: testRedisUrl(),
      CHAIN_RPC_URLS: '31337=http://127.0.0.1:9',
      SIGNER_SOCKET: join(fixture.dir, 'no-signer.sock'),
    });
    // Anvil's well-known dev account 0 (public test key, never real funds) as the agents' signer address.
    const signerAddress = ANVIL_ACCOUNTS[0].address as Address;
    agentKey = (await createAgentWithKey(pool, { name: 'rl-agent', signerAddress })).apiKey;
    otherAgentKey = (await createAgentWithKey(pool, { name: 'rl-agent-2', signerAddress })).apiKey;
    const hash = await hashPassword(PASSWORD);
    await createUser(pool, { username: 'rl-owner', passwordHash: hash, role: 'owner' });
    await createUser(pool, { username: 'rl-viewer', passwordHash: hash, role: 'viewer' });
  });

  // Each app holds a pool and its LISTEN connections: close a test's apps when it ends, not all at the end (15 tests'
  // worth of apps at once exhausted the server's connections).
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close().catch(() => {});
  });
  after(async () => {
    for (const app of apps) await app.close().catch(() => {});
    await pool?.end();
    await db?.drop();
    fixture?.remove();
  });

  /** A fresh app with its own Redis prefix, limits out of the way unless overridden, a clock and captured logs. */
  async function harness(overrides: Partial<GatewayConfig> = {}): Promise<Harness> {
    const logs: Record<string, unknown>[] = [];
    const clock = { now: START };
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          logs.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const config: GatewayConfig = {
      ...base,
      rateLimitIpPerMin: 100_000,
      rateLimitPrincipalPerMin: 100_000,
      rateLimitPrincipalBurst: 100_000,
      rateLimitIntentsPerMin: 100_000,
      rateLimitAuthPerMin: 100_000,
      rateLimitAdminPerMin: 100_000,
      rateLimitIntentReadsPerMin: 100_000,
      rateLimitRedisPrefix: `test:rl:${randomBytes(6).toString('hex')}:`,
      logIpMode: 'full', // these tests tell clients apart by address in the log (masking: log-ip-masking.int.test.ts)
      ...overrides,
    };
    const app = await buildApp(config, {
      logger: { level: 'info', stream },
      tracker: false,
      notifications: false,
      clock: () => clock.now,
    });
    apps.push(app);
    await app.ready();
    if (app.services.redis && app.services.redis.status !== 'ready')
      await new Promise((resolve) => app.services.redis!.once('ready', resolve));
    return { app, logs, clock };
  }

  const jwks = (app: FastifyInstance, remoteAddress = '198.51.100.50', headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url: '/.well-known/jwks.json', remoteAddress, headers });

  async function agentToken(app: FastifyInstance, apiKey = agentKey): Promise<string> {
    const res = await app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { apiKey },
      remoteAddress: '192.0.2.200',
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().access_token as string;
  }

  /** POST /v1/intents with an empty body from `remoteAddress`: a write (refused 400 when admitted), unlike reads of intents, which have their own buckets. */
  function postEmptyIntent(app: FastifyInstance, bearer: string, remoteAddress: string) {
    return app.inject({
      method: 'POST',
      url: '/v1/intents',
      remoteAddress,
      headers: { authorization: `Bearer ${bearer}` },
      payload: {},
    });
  }

  async function userToken(app: FastifyInstance, username: string): Promise<string> {
    const res = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username, password: PASSWORD },
      remoteAddress: '192.0.2.201',
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().access_token as string;
  }

  test('headers on every limited response; 429 rate_limited with Retry-After; the window slides', async () => {
    const { app, clock } = await harness({ rateLimitIpPerMin: 5 });
    const first = await jwks(app);
    assert.equal(first.statusCode, 200);
    assert.deepEqual(
      [first.headers['x-ratelimit-limit'], first.headers['x-ratelimit-remaining'], first.headers['x-ratelimit-reset']],
      ['5', '4', '60'],
    );
    for (let i = 0; i < 2; i += 1) assert.equal((await jwks(app)).statusCode, 200);
    clock.now += 30_000;
    const late = await jwks(app);
    assert.deepEqual(
      [late.headers['x-ratelimit-remaining'], late.headers['x-ratelimit-reset']],
      ['1', '30'],
      'reset: when the oldest request leaves the window',
    );
    assert.equal((await jwks(app)).headers['x-ratelimit-remaining'], '0');

    const refused = await jwks(app);
    assert.equal(refused.statusCode, 429);
    assert.deepEqual(refused.json(), {
      code: 'rate_limited',
      message: 'Too many requests; retry after the time in Retry-After.',
      details: { scope: 'ip', retryAfter: 30 },
    });
    assert.deepEqual(
      [
        refused.headers['retry-after'],
        refused.headers['x-ratelimit-limit'],
        refused.headers['x-ratelimit-remaining'],
        refused.headers['x-ratelimit-reset'],
      ],
      ['30', '5', '0', '30'],
    );

    // A sliding minute, not a fixed one: 60 s after the first three, exactly three slots are free again.
    clock.now += 30_001;
    for (let i = 0; i < 3; i += 1) assert.equal((await jwks(app)).statusCode, 200, `slot ${i + 1}`);
    assert.equal((await jwks(app)).statusCode, 429, 'the two later requests still fill the window');
  });

  test('/health is never limited, not even for a blocked client', async () => {
    const { app, clock } = await harness({ rateLimitIpPerMin: 1 });
    // A second apart, each on a fresh connection (inject): from 5 s into the run (the fresh-connection grace) each
    // ignores the Retry-After it was told.
    for (let i = 0; i < 20; i += 1) {
      clock.now += 1_000;
      await jwks(app, '198.51.100.60');
    }
    assert.equal((await jwks(app, '198.51.100.60')).json().code, 'rate_limit_blocked');
    for (let i = 0; i < 50; i += 1) {
      const res = await app.inject({ method: 'GET', url: '/health', remoteAddress: '198.51.100.60' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-ratelimit-limit'], undefined);
    }
  });

  test('1,000 requests rotating X-Forwarded-For from an untrusted peer stay in one bucket', async () => {
    const { app } = await harness({ rateLimitIpPerMin: 1000 });
    let last;
    for (let i = 0; i < 1000; i += 1) {
      const forged = `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}, 2001:db8:${i.toString(16)}::1`;
      last = await jwks(app, '203.0.113.77', { 'x-forwarded-for': forged });
      assert.equal(last.statusCode, 200, `request ${i + 1}`);
    }
    assert.ok(last);
    assert.equal(last.headers['x-ratelimit-remaining'], '0');
    const over = await jwks(app, '203.0.113.77', { 'x-forwarded-for': '192.0.2.1' });
    assert.deepEqual([over.statusCode, over.json().code], [429, 'rate_limited']);
    const otherPeer = await jwks(app, '203.0.113.78', { 'x-forwarded-for': '203.0.113.77' });
    assert.deepEqual(
      [otherPeer.statusCode, otherPeer.headers['x-ratelimit-remaining']],
      [200, '999'],
      'naming the limited client in XFF does not hurt another peer',
    );
  });

  test('X-Forwarded-For is believed from a trusted proxy only, and its rightmost untrusted entry is the client', async () => {
    const { app } = await harness({ rateLimitIpPerMin: 2, trustedProxies: ['198.51.100.1'] });
    const viaProxy = (xff: string, peer = '198.51.100.1') => jwks(app, peer, { 'x-forwarded-for': xff });
    assert.equal((await viaProxy('203.0.113.5')).statusCode, 200);
    assert.equal((await viaProxy('203.0.113.5')).statusCode, 200);
    assert.equal((await viaProxy('203.0.113.5')).statusCode, 429);
    assert.equal(
      (await viaProxy('10.9.9.9, 203.0.113.5')).statusCode,
      429,
      'a forged leading entry does not make a new client',
    );
    assert.equal((await viaProxy('203.0.113.6')).statusCode, 200, 'another client behind the proxy has its own bucket');
    assert.equal(
      (await viaProxy('203.0.113.5', '::ffff:198.51.100.1')).statusCode,
      429,
      'the proxy as an IPv4-mapped peer is still trusted',
    );
    // From an untrusted peer, the header is ignored: the peer is the client.
    assert.equal((await viaProxy('203.0.113.9', '198.51.100.2')).statusCode, 200);
    assert.equal((await viaProxy('203.0.113.10', '198.51.100.2')).statusCode, 200);
    assert.equal((await viaProxy('203.0.113.11', '198.51.100.2')).statusCode, 429);
  });

  test('1,000 addresses from one IPv6 /64 stay in one bucket; an IPv4-mapped peer counts as its IPv4', async () => {
    const { app } = await harness({ rateLimitIpPerMin: 1000 });
    for (let i = 0; i < 1000; i += 1) {
      const res = await jwks(
        app,
        `2001:db8:ab:cd:${(i * 31).toString(16)}:${(i & 0xff).toString(16)}:${randomBytes(2).toString('hex')}:${i.toString(16)}`,
      );
      assert.equal(res.statusCode, 200, `address ${i + 1}`);
    }
    assert.equal((await jwks(app, '2001:db8:ab:cd:ffff:ffff:ffff:fffe')).statusCode, 429);
    assert.equal((await jwks(app, '2001:db8:ab:ce::1')).statusCode, 200, 'the next /64 is another client');

    const small = await harness({ rateLimitIpPerMin: 2 });
    assert.equal((await jwks(small.app, '203.0.113.20')).statusCode, 200);
    assert.equal((await jwks(small.app, '::ffff:203.0.113.20')).statusCode, 200);
    assert.equal(
      (await jwks(small.app, '::ffff:cb00:7114')).statusCode,
      429,
      '::ffff:203.0.113.20 in hex is the same client',
    );
  });

  test('case, trailing-slash, doubled-slash and percent-encoded variants of /auth/token share its bucket; logs show at most 4 key characters', async () => {
    const { app, logs } = await harness({ rateLimitAuthPerMin: 5 });
    const post = (url: string, remoteAddress = '192.0.2.10') =>
      app.inject({ method: 'POST', url, payload: { apiKey: BOGUS_API_KEY }, remoteAddress });
    assert.equal((await post('/auth/token')).json().code, 'invalid_api_key');
    assert.equal((await post('/auth/%74oken')).json().code, 'invalid_api_key', 'the router decodes it: same route');
    assert.equal((await post('/AUTH/TOKEN')).json().code, 'route_not_found');
    assert.equal((await post('//auth//token/')).json().code, 'route_not_found');
    assert.equal((await post('/auth%2Ftoken')).json().code, 'route_not_found');
    const refused = await post('/auth/token?retry=1');
    assert.deepEqual(
      [refused.statusCode, refused.json().code, refused.json().details.scope],
      [429, 'rate_limited', 'route'],
    );
    assert.equal(refused.headers['x-ratelimit-limit'], '5');
    assert.equal(
      (await post('/auth/token', '192.0.2.11')).json().code,
      'invalid_api_key',
      'another address has its own bucket',
    );

    const event = logs.find((l) => l.event === 'auth.rate_limited' && l.scope === 'route');
    assert.ok(event, 'the refusal is logged');
    assert.equal(event.ip, '192.0.2.10');
    assert.equal(event.route, '/auth/token');
    assert.equal(event.limit, 5);
    assert.equal(event.count, 6);
    assert.equal(event.apiKeyLast4, BOGUS_API_KEY.slice(-4));
    const text = JSON.stringify(logs);
    assert.ok(!text.includes(BOGUS_API_KEY.slice(-5)), 'never more than four characters of the key');
    assert.ok(!text.includes(BOGUS_API_KEY.slice(0, 22)), 'not even its public id');
  });

  test('per principal: a token bucket per API key, whatever the address; unauthenticated requests count by address only', async () => {
    const { app, clock } = await harness({ rateLimitPrincipalBurst: 3, rateLimitPrincipalPerMin: 60 });
    const token = await agentToken(app);
    const list = (n: number, bearer = token) => postEmptyIntent(app, bearer, `192.0.2.${n}`);
    const remaining = [];
    for (let i = 1; i <= 3; i += 1) {
      const res = await list(i);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.headers['x-ratelimit-limit'], '3', 'the tightest limit is reported');
      remaining.push(res.headers['x-ratelimit-remaining']);
    }
    assert.deepEqual(remaining, ['2', '1', '0']);
    const refused = await list(4);
    assert.deepEqual(
      [refused.statusCode, refused.json().code, refused.json().details.scope, refused.headers['retry-after']],
      [429, 'rate_limited', 'principal', '1'],
    );
    clock.now += 1000; // the bucket refills one token a second (60 a minute)
    assert.equal((await list(5)).statusCode, 400);
    assert.equal((await list(6)).statusCode, 429);
    assert.equal(
      (await list(7, await agentToken(app, otherAgentKey))).statusCode,
      400,
      'another API key has its own bucket',
    );
    for (let i = 0; i < 10; i += 1)
      assert.equal((await jwks(app, '192.0.2.1')).statusCode, 200, 'anonymous requests are not principal-limited');
  });

  test('per route class: intents routes have their own limit per principal and route', async () => {
    // Reads of intents have their own class limit (RATE_LIMIT_INTENT_READS_PER_MIN), outside the principal's bucket.
    const { app } = await harness({ rateLimitIntentReadsPerMin: 2, rateLimitPrincipalBurst: 1 });
    const token = await agentToken(app);
    const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    assert.equal((await get('/v1/intents')).statusCode, 200);
    assert.equal((await get('/v1/intents?limit=5')).statusCode, 200);
    const refused = await get('/v1/intents?limit=6');
    assert.deepEqual(
      [refused.statusCode, refused.json().details.scope, refused.headers['x-ratelimit-limit']],
      [429, 'route', '2'],
    );
    assert.equal(
      (await get('/v1/intents/00000000-0000-4000-8000-000000000000')).json().code,
      'not_found',
      'another route of the class has its own bucket',
    );

    // Unmatched variants of a parametric route are charged to it (by address: they never authenticate).
    const variant = (url: string) => app.inject({ method: 'GET', url, remoteAddress: '192.0.2.99' });
    assert.equal((await variant('/V1/INTENTS/abc')).json().code, 'route_not_found');
    assert.equal((await variant('/v1//intents/abc/')).json().code, 'route_not_found');
    assert.deepEqual([(await variant('/v1/Intents/def')).json().details?.scope], ['route']);
  });

  test('a refused POST /v1/intents is counted before schema validation, and a 429 writes no audit record', async () => {
    const { app } = await harness({ rateLimitIntentsPerMin: 1 });
    const agent = await createAgentWithKey(pool, { name: 'rl-audit-agent', signerAddress: ANVIL_ACCOUNTS[0].address });
    const token = await agentToken(app, agent.apiKey);
    const audited = async () =>
      (
        await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM audit_log WHERE action = 'intent.refused' AND actor = $1",
          [`agent:${agent.agentId}`],
        )
      ).rows[0]!.n;
    const post = () =>
      app.inject({
        method: 'POST',
        url: '/v1/intents',
        headers: { authorization: `Bearer ${token}` },
        payload: { type: 'transfer', chainId: 'not-a-number' },
      });
    assert.equal((await post()).statusCode, 400);
    assert.equal(await audited(), 1, 'the invalid request is audited as usual');
    for (let i = 0; i < 5; i += 1)
      assert.deepEqual([(await post()).json().code], ['rate_limited'], 'the invalid request still counted');
    assert.equal(await audited(), 1, 'no audit write per 429');
  });

  test('progressive: 10 hits in 5 minutes block for 5 minutes, and the block expires', async () => {
    const { app, clock, logs } = await harness({ rateLimitIpPerMin: 2 });
    const ip = '203.0.113.30';
    assert.equal((await jwks(app, ip)).statusCode, 200);
    assert.equal((await jwks(app, ip)).statusCode, 200);
    // The first refusal tells Retry-After and counts nothing. Requests on fresh connections (inject) within 5 s of it
    // may have been sent before it was read: they count nothing either. Later ones, a second apart and before the
    // Retry-After, ignore it and count.
    assert.equal((await jwks(app, ip)).json().code, 'rate_limited', 'told');
    clock.now += 4_000;
    assert.equal((await jwks(app, ip)).json().code, 'rate_limited', 'within the grace');
    for (let hit = 1; hit <= 9; hit += 1) {
      clock.now += 1_000;
      assert.equal((await jwks(app, ip)).json().code, 'rate_limited', `hit ${hit}`);
    }
    clock.now += 1_000;
    const tenth = await jwks(app, ip);
    assert.deepEqual(
      [tenth.statusCode, tenth.json().code, tenth.headers['retry-after']],
      [429, 'rate_limit_blocked', '300'],
    );
    assert.equal((await jwks(app, '203.0.113.31')).statusCode, 200, 'only that client is blocked');
    assert.ok(logs.some((l) => l.event === 'auth.client_blocked' && l.tier === 'short' && l.ip === ip));

    clock.now += 61_000; // its window is empty again, but the block holds
    const still = await jwks(app, ip);
    assert.deepEqual([still.json().code, still.headers['retry-after']], ['rate_limit_blocked', '239']);
    clock.now += 240_000;
    assert.equal((await jwks(app, ip)).statusCode, 200, 'served again once the 5 minutes are over');
  });

  test('progressive: 50 hits in 15 minutes block for an hour with one alert, and the block expires', async () => {
    const { app, clock } = await harness({ rateLimitIpPerMin: 2 });
    const ip = '203.0.113.40';
    const alerts = async () =>
      (
        await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM alerts WHERE kind = 'rate_limit_block' AND detail->>'subject' = $1",
          [`ip:${ip}`],
        )
      ).rows[0]!.n;
    for (let i = 0; i < 2; i += 1) assert.equal((await jwks(app, ip)).statusCode, 200);
    let last;
    await jwks(app, ip); // told Retry-After
    clock.now += 4_000; // the fresh-connection grace
    for (let hit = 1; hit <= 50; hit += 1) {
      clock.now += 1_000; // a client that ignores Retry-After
      last = await jwks(app, ip);
    }
    assert.ok(last);
    assert.deepEqual([last.json().code, last.headers['retry-after']], ['rate_limit_blocked', '3600']);
    assert.equal(await alerts(), 1);
    for (let i = 0; i < 20; i += 1) assert.equal((await jwks(app, ip)).json().code, 'rate_limit_blocked');
    assert.equal(await alerts(), 1, 'one alert per block, however long the client keeps knocking');
    const [alert] = (
      await pool.query<{ severity: string; detail: Record<string, unknown> }>(
        "SELECT severity, detail FROM alerts WHERE detail->>'subject' = $1",
        [`ip:${ip}`],
      )
    ).rows;
    assert.equal(alert!.severity, 'medium');
    assert.equal(alert!.detail.ip, ip);
    assert.equal(alert!.detail.hits, 50);

    clock.now += 5 * 60_000 + 1000;
    assert.equal((await jwks(app, ip)).json().code, 'rate_limit_blocked', 'an hour, not five minutes');
    clock.now += 55 * 60_000;
    assert.equal((await jwks(app, ip)).statusCode, 200, 'served again after the hour');
  });

  test('progressive: a blocked API key stays blocked from any address; other keys are not', async () => {
    const { app, clock } = await harness({ rateLimitPrincipalBurst: 2, rateLimitPrincipalPerMin: 1 });
    const token = await agentToken(app);
    const send = (n: number, bearer = token) => postEmptyIntent(app, bearer, `198.18.0.${n}`);
    assert.equal((await send(1)).statusCode, 400);
    assert.equal((await send(2)).statusCode, 400);
    assert.equal((await send(3)).json().code, 'rate_limited', 'told');
    clock.now += 4_000; // the fresh-connection grace
    const codes = [];
    for (let i = 0; i < 10; i += 1) {
      clock.now += 1_000;
      codes.push((await send(10 + i)).json().code);
    }
    assert.deepEqual(codes, [...Array(9).fill('rate_limited'), 'rate_limit_blocked']);
    const fresh = await send(99);
    assert.deepEqual([fresh.json().code, fresh.json().details.scope], ['rate_limit_blocked', 'principal']);
    assert.equal((await send(98, await agentToken(app, otherAgentKey))).statusCode, 400);
  });

  test('without Redis (the embedded default) the in-process store keeps the same rules', async () => {
    const { app, clock } = await harness({
      redisUrl: null,
      rateLimitIpPerMin: 2,
      rateLimitPrincipalBurst: 2,
      rateLimitPrincipalPerMin: 60,
    });
    assert.equal(app.services.redis, null);
    const first = await jwks(app, '203.0.113.90');
    assert.deepEqual(
      [first.headers['x-ratelimit-limit'], first.headers['x-ratelimit-remaining'], first.headers['x-ratelimit-reset']],
      ['2', '1', '60'],
    );
    clock.now += 30_000;
    assert.equal((await jwks(app, '::ffff:203.0.113.90')).statusCode, 200);
    const refused = await jwks(app, '203.0.113.90');
    assert.deepEqual(
      [refused.statusCode, refused.json().code, refused.headers['retry-after']],
      [429, 'rate_limited', '30'],
    );
    clock.now += 30_001;
    assert.equal((await jwks(app, '203.0.113.90')).statusCode, 200, 'the window slides');

    for (let i = 0; i < 2; i += 1) await jwks(app, '2001:db8:9::1');
    assert.equal((await jwks(app, '2001:db8:9::1')).json().code, 'rate_limited', 'told');
    clock.now += 4_000; // the fresh-connection grace
    const codes = [];
    for (let i = 0; i < 10; i += 1) {
      clock.now += 1_000;
      codes.push((await jwks(app, `2001:db8:9::${i + 2}`)).json().code);
    }
    assert.deepEqual(codes, [...Array(9).fill('rate_limited'), 'rate_limit_blocked']);
    clock.now += 5 * 60_000 + 1;
    assert.equal((await jwks(app, '2001:db8:9::ffff')).statusCode, 200, 'the block expires');

    const token = await agentToken(app);
    const send = (n: number) => postEmptyIntent(app, token, `198.19.0.${n}`);
    assert.equal((await send(1)).statusCode, 400);
    assert.equal((await send(2)).statusCode, 400);
    assert.deepEqual([(await send(3)).json().details?.scope], ['principal']);
    clock.now += 1000;
    assert.equal((await send(4)).statusCode, 400);
  });

  test('GET /metrics: owners and admins only, Prometheus text', async () => {
    const { app } = await harness();
    assert.deepEqual([(await app.inject({ method: 'GET', url: '/metrics' })).statusCode], [401]);
    const viewer = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${await userToken(app, 'rl-viewer')}` },
    });
    assert.deepEqual([viewer.statusCode, viewer.json().code], [403, 'forbidden']);
    const owner = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${await userToken(app, 'rl-owner')}` },
    });
    assert.equal(owner.statusCode, 200);
    assert.match(owner.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    assert.match(owner.body, /^# TYPE clawd402_rate_limit_store_errors_total counter$/m);
    assert.match(owner.body, /^clawd402_rate_limit_store_errors_total 0$/m);
  });

  describe('Redis stopped mid-test', () => {
    let redis: ChildProcess;
    let port: number;
    before(async () => {
      port = await freePort();
      redis = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      );
      for (let i = 0; i < 100 && !(await redisAnswers(port)); i += 1)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(await redisAnswers(port), 'own redis-server started');
    });
    after(() => {
      if (redis.exitCode === null && redis.signalCode === null) redis.kill('SIGKILL');
    });

    test('requests are served (fail open), an error is logged and the metric counts it', async () => {
      const { app, logs } = await harness({ redisUrl: `redis://127.0.0.1:${port}`, rateLimitIpPerMin: 3 });
      const before = await jwks(app, '192.0.2.77');
      assert.deepEqual(
        [before.statusCode, before.headers['x-ratelimit-remaining']],
        [200, '2'],
        'counted in Redis while it is up',
      );

      const exited = new Promise((resolve) => redis.once('exit', resolve));
      redis.kill('SIGKILL');
      await exited;
      for (let i = 0; i < 10; i += 1) {
        const res = await jwks(app, '192.0.2.77');
        assert.equal(res.statusCode, 200, `request ${i + 1} served while Redis is down`);
        assert.equal(res.headers['x-ratelimit-limit'], undefined, 'no made-up headers');
      }
      const error = logs.find((l) => l.msg === 'rate-limit store unavailable; rate limits fail open');
      assert.ok(error, 'an error is logged');
      assert.equal(error.level, 50);

      const token = await userToken(app, 'rl-owner');
      const metrics = await app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(metrics.statusCode, 200);
      const count = Number(/^clawd402_rate_limit_store_errors_total (\d+)$/m.exec(metrics.body)?.[1]);
      assert.ok(count >= 10, `store errors counted: ${count}`);
    });
  });
});

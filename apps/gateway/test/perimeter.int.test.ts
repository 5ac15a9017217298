import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { parseCidrList } from '../src/security/ip-allowlist.ts';
import { PERMISSIONS, ROLE_PERMISSIONS } from '../src/security/rbac.ts';
import { createUser } from '../src/repositories/users-repository.ts';
import { hashPassword } from '../src/lib/api-keys.ts';
import { readFileSync } from 'node:fs';
import { startStack, type Stack } from './support/stack.ts';

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'x-xss-protection': '0',
  'content-security-policy': "default-src 'self'",
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  'cache-control': 'no-store',
};
const PUBLIC_ROUTES = [
  'GET /health',
  'POST /auth/login',
  'POST /auth/token',
  'POST /auth/refresh',
  'GET /.well-known/jwks.json',
  // The console's page and bundled assets (no data: every call it makes is an admin route; docs/console.md).
  'GET /console',
  'GET /console/*',
];

describe('HTTP perimeter', () => {
  let stack: Stack;
  let app: FastifyInstance; // a second app on the same stack, configured per test needs
  before(async () => {
    stack = await startStack();
    app = await buildApp(
      {
        ...stack.config,
        allowedOrigins: ['https://console.example.com'],
        adminAllowedIps: parseCidrList('10.0.0.0/8,2001:db8::/32'),
      },
      { logger: false, tracker: false, routePermissions: { 'GET /test-only/boom': 'public' } },
    );
    // A route that fails, to see what a 500 looks like (added before the app is ready; its access is given above).
    app.get('/test-only/boom', async () => {
      throw new Error('secret internal detail 0xdeadbeef');
    });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await stack?.stop();
  });

  for (const [label, request, status] of [
    ['200', { method: 'GET', url: '/health' }, 200],
    ['401', { method: 'GET', url: '/v1/intents' }, 401],
    ['404', { method: 'GET', url: '/no/such/route' }, 404],
    ['500', { method: 'GET', url: '/test-only/boom' }, 500],
  ] as const) {
    test(`security headers are on a ${label}`, async () => {
      const res = await app.inject(request);
      assert.equal(res.statusCode, status);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) assert.equal(res.headers[name], value, name);
      assert.equal(res.headers['strict-transport-security'], undefined, 'no HSTS without TLS');
    });
  }

  test('a 500 answers the generic body: no message, stack or detail of the failure', async () => {
    const res = await app.inject({ method: 'GET', url: '/test-only/boom' });
    assert.deepEqual(res.json(), { code: 'internal_error', message: 'Internal error.' });
    assert.ok(!res.body.includes('deadbeef'));
  });

  test('/health answers exactly {status, timestamp}', async () => {
    const body = (await app.inject({ method: 'GET', url: '/health' })).json();
    assert.deepEqual(Object.keys(body).sort(), ['status', 'timestamp']);
    assert.equal(body.status, 'ok');
    assert.equal(new Date(body.timestamp).toISOString(), body.timestamp);
  });

  test('CORS: an unlisted origin gets no Access-Control-Allow-Origin; a listed one gets exactly itself', async () => {
    const evil = await app.inject({
      method: 'OPTIONS',
      url: '/v1/intents',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
    const evilGet = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example' } });
    assert.equal(evilGet.headers['access-control-allow-origin'], undefined);
    const good = await app.inject({
      method: 'OPTIONS',
      url: '/v1/intents',
      headers: { origin: 'https://console.example.com', 'access-control-request-method': 'POST' },
    });
    assert.equal(good.headers['access-control-allow-origin'], 'https://console.example.com');
  });

  test('/admin from a non-listed IP gets 403, also with a spoofed X-Forwarded-For from an untrusted peer', async () => {
    const fromLoopback = await app.inject({ method: 'GET', url: '/admin/users', remoteAddress: '127.0.0.1' });
    assert.deepEqual([fromLoopback.statusCode, fromLoopback.json().code], [403, 'forbidden']);
    const spoofed = await app.inject({
      method: 'GET',
      url: '/admin/users',
      remoteAddress: '203.0.113.7',
      headers: { 'x-forwarded-for': '10.1.2.3' },
    });
    assert.deepEqual([spoofed.statusCode, spoofed.json().code], [403, 'forbidden']);
    // From an allowed address the IP check passes and authentication is next.
    const allowed = await app.inject({ method: 'GET', url: '/admin/users', remoteAddress: '10.1.2.3' });
    assert.deepEqual([allowed.statusCode, allowed.json().code], [401, 'unauthenticated']);
    const mapped = await app.inject({ method: 'GET', url: '/admin/users', remoteAddress: '::ffff:10.9.9.9' });
    assert.equal(mapped.statusCode, 401, 'an IPv4-mapped IPv6 peer is matched as IPv4');
    const v6 = await app.inject({ method: 'GET', url: '/admin/users', remoteAddress: '2001:db8::1' });
    assert.equal(v6.statusCode, 401);
  });

  test('X-Forwarded-For is believed only from a trusted proxy', async () => {
    const proxied = await buildApp(
      { ...stack.config, trustedProxies: ['198.51.100.1'], adminAllowedIps: parseCidrList('10.0.0.0/8') },
      { logger: false, tracker: false },
    );
    try {
      const viaProxy = await proxied.inject({
        method: 'GET',
        url: '/admin/users',
        remoteAddress: '198.51.100.1',
        headers: { 'x-forwarded-for': '10.1.2.3' },
      });
      assert.equal(viaProxy.statusCode, 401, 'the proxy vouches for 10.1.2.3');
      const viaOther = await proxied.inject({
        method: 'GET',
        url: '/admin/users',
        remoteAddress: '198.51.100.2',
        headers: { 'x-forwarded-for': '10.1.2.3' },
      });
      assert.equal(viaOther.statusCode, 403);
    } finally {
      await proxied.close();
    }
  });

  test('route-permission walk: every route declares access; only the public list is public; every other route refuses an anonymous request', async () => {
    const routes = app.routeAccess.filter((r) => !r.url.startsWith('/test-only/'));
    assert.ok(routes.length >= 14);
    const isPublic = routes.filter((r) => r.permission === 'public').map((r) => `${r.method} ${r.url}`);
    // Outside production the OpenAPI docs are public too; nothing else is.
    assert.deepEqual(isPublic.filter((r) => !r.startsWith('GET /docs')).sort(), [...PUBLIC_ROUTES].sort());
    assert.ok(isPublic.includes('GET /docs/json'));
    for (const route of routes.filter((r) => r.permission !== 'public')) {
      assert.ok(
        route.permission in PERMISSIONS,
        `${route.method} ${route.url} declares unknown permission ${route.permission}`,
      );
      const url = route.url.replaceAll(':id', '00000000-0000-4000-8000-000000000000');
      const res = await app.inject({
        method: route.method as 'GET',
        url,
        remoteAddress: '10.0.0.1',
        ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { payload: {} }),
      });
      assert.equal(res.statusCode, 401, `${route.method} ${route.url} answered ${res.statusCode} without a token`);
    }
  });

  test('the route-permission table: a route missing from it or declaring its own permission stops start-up; an entry that matches no route stops ready', async () => {
    const other = await buildApp(stack.config, {
      logger: false,
      tracker: false,
      routePermissions: { 'GET /test-only/nowhere': 'public' },
    });
    try {
      assert.throws(() => other.get('/test-only/unlisted', async () => 'x'), /no single permission/);
      assert.throws(
        () => other.get('/test-only/inline', { config: { permission: 'public' } }, async () => 'x'),
        /declares its own permission/,
      );
      await assert.rejects(async () => other.ready(), /GET \/test-only\/nowhere/);
    } finally {
      await other.close().catch(() => {});
    }
  });

  test('/docs serves the OpenAPI description outside production, and does not exist in production', async () => {
    const spec = await app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(spec.statusCode, 200);
    assert.ok(spec.json().paths['/v1/intents'], 'the agent API is described');
    const production = await buildApp({ ...stack.config, env: 'production' }, { logger: false, tracker: false });
    try {
      assert.equal((await production.inject({ method: 'GET', url: '/docs' })).statusCode, 404);
      assert.equal((await production.inject({ method: 'GET', url: '/docs/json' })).statusCode, 404);
      const isPublic = production.routeAccess
        .filter((r) => r.permission === 'public')
        .map((r) => `${r.method} ${r.url}`)
        .sort();
      assert.deepEqual(isPublic, [...PUBLIC_ROUTES].sort());
    } finally {
      await production.close();
    }
  });

  test('docs/rbac.md lists exactly the permission matrix in the code', () => {
    const doc = readFileSync(new URL('../../../docs/rbac.md', import.meta.url), 'utf8');
    const roles = ['owner', 'admin', 'operator', 'approver', 'viewer', 'agent'] as const;
    const rows = doc.split('\n').filter((l) => /^\| `[a-z]+:[a-z-]+` \|/.test(l));
    const documented = Object.fromEntries(
      rows.map((l) => {
        const cells = l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim());
        return [cells[0]!.replaceAll('`', ''), roles.filter((_, i) => cells[i + 1] === '✓')];
      }),
    );
    const inCode = Object.fromEntries(
      Object.keys(PERMISSIONS).map((p) => [
        p,
        roles.filter((r) => ROLE_PERMISSIONS[r].includes(p as keyof typeof PERMISSIONS)),
      ]),
    );
    assert.deepEqual(documented, inCode);
  });

  test('an authorization failure is a 403 with the permission logged, never a leak of what exists', async () => {
    await createUser(stack.pool, {
      username: 'viewer1',
      passwordHash: await hashPassword('correct horse battery staple'),
      role: 'viewer',
    });
    const login = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'viewer1', password: 'correct horse battery staple' },
    });
    const token = login.json().access_token;
    const res = await app.inject({
      method: 'GET',
      url: '/admin/users',
      remoteAddress: '10.0.0.1',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.deepEqual([res.statusCode, res.json().code], [403, 'forbidden']);
  });
});

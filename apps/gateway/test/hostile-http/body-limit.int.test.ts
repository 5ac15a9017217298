/**
 * Oversized bodies on every route class: public auth, signed-in auth, agent intents, admin (JSON routes at the 16 KiB
 * app limit; the policy upload and dry-run at their own 4 MiB + 1 KiB and 8 MiB + 64 KiB), JSON-RPC at its own 512 KiB, and a path with no route.
 * Declared with
 * Content-Length, the refusal comes before the body is read; sent chunked (no length), reading stops at the limit.
 * Every one answers 413 payload_too_large (a path with no route too: the limit applies before not-found) and
 * the gateway keeps serving. A body exactly at the limit is read.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_POLICY_TEXT_LENGTH } from '@clawd402/policy';
import { RPC_BODY_LIMIT } from '../../src/services/json-rpc-service.ts';
import { stackWithToken } from '../support/suite.ts';
import { assertAnswered, assertStillServing, head, rawExchange } from '../support/raw-http.ts';

const LIMIT = 16 * 1024;
/** routes/admin/policies.ts: a dry-run carries a whole candidate policy set. */
const DRY_RUN_LIMIT = 2 * MAX_POLICY_TEXT_LENGTH + 64 * 1024;
/** A JSON object of exactly `bytes` bytes. */
const jsonOf = (bytes: number): string => `{"pad":"${'x'.repeat(bytes - 10)}"}`;

describe('413 payload_too_large on every route class', { timeout: 240_000 }, () => {
  const ctx = stackWithToken();
  let admin: string;
  before(async () => {
    admin = await ctx.stack.loginAs('admin');
  });

  const ROUTES: {
    label: string;
    method: string;
    path: string;
    as: 'none' | 'agent' | 'admin';
    limit?: number;
    contentType?: string;
  }[] = [
    { label: 'auth, public: POST /auth/token', method: 'POST', path: '/auth/token', as: 'none' },
    { label: 'auth, public: POST /auth/login', method: 'POST', path: '/auth/login', as: 'none' },
    { label: 'auth, public: POST /auth/refresh', method: 'POST', path: '/auth/refresh', as: 'none' },
    { label: 'auth, signed in: POST /auth/password', method: 'POST', path: '/auth/password', as: 'admin' },
    { label: 'v1 intents: POST /v1/intents', method: 'POST', path: '/v1/intents', as: 'agent' },
    {
      label: 'v1 intents: POST /v1/intents/:id/cancel',
      method: 'POST',
      path: '/v1/intents/00000000-0000-4000-8000-000000000000/cancel',
      as: 'agent',
    },
    {
      label: 'agent JSON-RPC: POST /rpc (own limit, batches)',
      method: 'POST',
      path: '/rpc',
      as: 'agent',
      limit: RPC_BODY_LIMIT,
    },
    { label: 'admin: POST /admin/users', method: 'POST', path: '/admin/users', as: 'admin' },
    {
      label: 'admin: PUT /admin/notifications/channels/:name',
      method: 'PUT',
      path: '/admin/notifications/channels/ops',
      as: 'admin',
    },
    {
      label: 'admin: POST /admin/policies/dry-run (own limit)',
      method: 'POST',
      path: '/admin/policies/dry-run',
      as: 'admin',
      limit: DRY_RUN_LIMIT,
    },
    {
      label: 'admin: POST /admin/policies (upload, own limit)',
      method: 'POST',
      path: '/admin/policies',
      as: 'admin',
      limit: MAX_POLICY_TEXT_LENGTH + 1024,
      contentType: 'application/yaml',
    },
  ];
  const headersFor = (as: 'none' | 'agent' | 'admin', contentType = 'application/json'): Record<string, string> => ({
    'content-type': contentType,
    ...(as === 'agent'
      ? { authorization: `Bearer ${ctx.token}` }
      : as === 'admin'
        ? { authorization: `Bearer ${admin}` }
        : {}),
  });

  for (const route of ROUTES) {
    test(`${route.label}: a declared Content-Length over the limit → 413 payload_too_large`, async () => {
      const limit = route.limit ?? LIMIT;
      const res = await fetch(`${ctx.stack.baseUrl}${route.path}`, {
        method: route.method,
        headers: headersFor(route.as, route.contentType),
        body: jsonOf(limit + 1),
      });
      const body = (await res.json()) as { code: string };
      assert.deepEqual([res.status, body.code], [413, 'payload_too_large']);
      await assertStillServing(ctx.stack.baseUrl, ctx.token);
    });
  }

  for (const route of ROUTES.filter((r) => r.limit === undefined)) {
    test(`${route.label}: chunked, no length, 64 KiB → 413 payload_too_large`, async () => {
      const body = jsonOf(64 * 1024);
      const chunks = body
        .match(/[\s\S]{1,4096}/g)!
        .map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`)
        .join('');
      const ex = await rawExchange(
        ctx.stack.baseUrl,
        `${head(route.method, route.path, { ...headersFor(route.as), 'transfer-encoding': 'chunked', connection: 'close' })}\r\n${chunks}0\r\n\r\n`,
      );
      assertAnswered(ex, 413, 'payload_too_large');
      await assertStillServing(ctx.stack.baseUrl, ctx.token);
    });
  }

  test('a lying Content-Length (1 GB declared, a few bytes sent) → 413 at once, the body is not waited for', async () => {
    const ex = await rawExchange(
      ctx.stack.baseUrl,
      `${head('POST', '/auth/token', { 'content-type': 'application/json', 'content-length': 1_000_000_000 })}\r\n{"apiKey":`,
    );
    assertAnswered(ex, 413, 'payload_too_large');
    await assertStillServing(ctx.stack.baseUrl, ctx.token);
  });

  test('no route: POST /v1/nowhere with 64 KiB → 413 payload_too_large (the limit applies before not-found); 1 KiB → 404 route_not_found', async () => {
    const res = await fetch(`${ctx.stack.baseUrl}/v1/nowhere`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: jsonOf(64 * 1024),
    });
    const body = (await res.json()) as { code: string };
    assert.deepEqual([res.status, body.code], [413, 'payload_too_large']);
    const small = await fetch(`${ctx.stack.baseUrl}/v1/nowhere`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: jsonOf(1024),
    });
    assert.deepEqual([small.status, ((await small.json()) as { code: string }).code], [404, 'route_not_found']);
    await assertStillServing(ctx.stack.baseUrl, ctx.token);
  });

  test("a body of exactly 16 KiB is read (the refusal is the schema's, not the size's)", async () => {
    const res = await fetch(`${ctx.stack.baseUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: jsonOf(LIMIT),
    });
    const body = (await res.json()) as { code: string };
    assert.equal(res.status, 400);
    assert.equal(body.code, 'invalid_request'); // no apiKey: the schema refuses it
  });
});

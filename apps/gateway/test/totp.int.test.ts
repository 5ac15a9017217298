import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { createUser } from '../src/repositories/users-repository.ts';
import { hashPassword } from '../src/lib/api-keys.ts';
import { parseCidrList } from '../src/security/ip-allowlist.ts';
import { startStack, type Stack } from './support/stack.ts';

const PASSWORD = 'correct horse battery staple';
const codeAt = (secret: string, ms: number) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({
    timestamp: ms,
  });

describe('TOTP second factor', () => {
  let stack: Stack;
  let app: FastifyInstance;
  before(async () => {
    stack = await startStack();
    // The same stack, run as production: owners must enrol TOTP before using anything but their own session.
    app = await buildApp(
      { ...stack.config, env: 'production', adminAllowedIps: parseCidrList('127.0.0.1/32') },
      { logger: false, tracker: false },
    );
    await createUser(stack.pool, { username: 'olivia', passwordHash: await hashPassword(PASSWORD), role: 'owner' });
  });
  after(async () => {
    await app?.close();
    await stack?.stop();
  });

  const login = (body: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'olivia', password: PASSWORD, ...body } });
  const as = (token: string, method: 'GET' | 'POST', url: string, payload?: Record<string, string>) =>
    app.inject({
      method,
      url,
      remoteAddress: '127.0.0.1',
      headers: { authorization: `Bearer ${token}` },
      ...(payload !== undefined ? { payload } : {}),
    });

  test('in production an owner without TOTP may only enrol: admin routes answer totp_enrollment_required', async () => {
    const token = (await login({})).json().access_token;
    const admin = await as(token, 'GET', '/admin/users');
    assert.deepEqual([admin.statusCode, admin.json().code], [403, 'totp_enrollment_required']);
    assert.equal((await as(token, 'GET', '/auth/sessions')).statusCode, 200, 'own sessions stay reachable');
  });

  let secret = '';
  test('enrolment: a secret and otpauth URI, confirmed with a current code; a wrong code is refused', async () => {
    const token = (await login({})).json().access_token;
    const enrolled = await as(token, 'POST', '/auth/totp/enroll');
    assert.equal(enrolled.statusCode, 200);
    secret = enrolled.json().secret;
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.match(enrolled.json().otpauthUri, /^otpauth:\/\/totp\/.*secret=/);
    const stored = await stack.pool.query("SELECT totp_pending_sealed FROM users WHERE username = 'olivia'");
    assert.ok(!stored.rows[0].totp_pending_sealed.includes(secret), 'the secret is sealed at rest');

    const wrong = await as(token, 'POST', '/auth/totp/confirm', {
      code: '000000' === codeAt(secret, Date.now()) ? '111111' : '000000',
    });
    assert.deepEqual([wrong.statusCode, wrong.json().code], [400, 'invalid_totp_code']);
    const ok = await as(token, 'POST', '/auth/totp/confirm', { code: codeAt(secret, Date.now()) });
    assert.equal(ok.statusCode, 204);
    assert.equal((await as(token, 'GET', '/admin/users')).statusCode, 200, 'enrolled: admin routes open');
  });

  test('login then needs the code: missing → totp_required; wrong → invalid_credentials; right → tokens; replayed → refused', async () => {
    const missing = await login({});
    assert.deepEqual([missing.statusCode, missing.json().code], [401, 'totp_required']);
    // The confirm step used the current step; a code from the next step is fresh.
    const next = codeAt(secret, Date.now() + 30_000);
    const wrong = await login({ totp: next === '123456' ? '654321' : '123456' });
    assert.deepEqual([wrong.statusCode, wrong.json().code], [401, 'invalid_credentials']);
    const right = await login({ totp: next });
    assert.equal(right.statusCode, 200);
    assert.ok(right.json().access_token);
    const replay = await login({ totp: next });
    assert.deepEqual([replay.statusCode, replay.json().code], [401, 'invalid_credentials'], 'a code works once');
  });
});

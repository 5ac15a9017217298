import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { buildApp } from '../src/app.ts';
import { createUser } from '../src/repositories/users-repository.ts';
import { hashPassword } from '../src/lib/api-keys.ts';
import { count, startStack, type Stack } from './support/stack.ts';

const PASSWORD = 'correct horse battery staple';

async function call(
  stack: Stack,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe('human identity: login, refresh rotation, sessions, roles', { timeout: 300_000 }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
    const hash = await hashPassword(PASSWORD);
    await createUser(stack.pool, { username: 'olivia', passwordHash: hash, role: 'owner' });
    await createUser(stack.pool, { username: 'adam', passwordHash: hash, role: 'admin' });
    await createUser(stack.pool, { username: 'vera', passwordHash: hash, role: 'viewer' });
  });
  after(async () => stack?.stop());

  const login = (username: string, password = PASSWORD, ip?: string) =>
    call(stack, 'POST', '/auth/login', {
      body: { username, password },
      ...(ip ? { headers: { 'x-forwarded-for': ip } } : {}),
    });

  test('login returns a 15-minute RS256 access token and a refresh token; the access token carries no name or email', async () => {
    const res = await login('olivia');
    assert.equal(res.status, 200);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 900);
    assert.match(res.body.refresh_token, /^c402r_[A-Za-z0-9_-]{43}$/);
    const [header, payload] = res.body.access_token
      .split('.')
      .slice(0, 2)
      .map((p: string) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    assert.equal(header.alg, 'RS256');
    assert.deepEqual(Object.keys(payload).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'role', 'sid', 'sub']);
    assert.equal(payload.role, 'owner');
    assert.equal(payload.exp - payload.iat, 900);
  });

  test('a wrong password and an unknown user get the same invalid_credentials', async () => {
    const wrong = await login('olivia', 'not the password at all');
    const unknown = await login('nobody-here', PASSWORD);
    assert.deepEqual([wrong.status, wrong.body.code], [401, 'invalid_credentials']);
    assert.deepEqual([unknown.status, unknown.body.code], [401, 'invalid_credentials']);
    assert.equal(wrong.body.message, unknown.body.message);
  });

  test('a refresh token works once; presenting it again revokes the whole family', async () => {
    const first = await login('adam');
    const rotated = await call(stack, 'POST', '/auth/refresh', { body: { refresh_token: first.body.refresh_token } });
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.refresh_token, first.body.refresh_token);
    // The new access token works.
    assert.equal((await call(stack, 'GET', '/auth/sessions', { token: rotated.body.access_token })).status, 200);

    const replay = await call(stack, 'POST', '/auth/refresh', { body: { refresh_token: first.body.refresh_token } });
    assert.deepEqual([replay.status, replay.body.code], [401, 'invalid_refresh_token']);
    // The family is gone: the rotated refresh token and the session's access tokens stop working too.
    const next = await call(stack, 'POST', '/auth/refresh', { body: { refresh_token: rotated.body.refresh_token } });
    assert.deepEqual([next.status, next.body.code], [401, 'invalid_refresh_token']);
    assert.equal((await call(stack, 'GET', '/auth/sessions', { token: rotated.body.access_token })).status, 401);
    const alerts = await stack.pool.query("SELECT severity FROM alerts WHERE kind = 'refresh_token_reused'");
    assert.deepEqual(alerts.rows, [{ severity: 'critical' }]);
    assert.equal(
      await count(stack.pool, "SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.refresh_reused'"),
      1,
    );
  });

  test('a 4th login evicts the oldest session; the user keeps at most 3', async () => {
    await call(stack, 'DELETE', '/auth/sessions', { token: (await login('vera')).body.access_token });
    const logins = [];
    for (let i = 0; i < 4; i += 1) logins.push((await login('vera')).body);
    const list = await call(stack, 'GET', '/auth/sessions', { token: logins[3].access_token });
    assert.equal(list.body.items.length, 3);
    assert.equal(list.body.items.filter((s: { current: boolean }) => s.current).length, 1);
    assert.equal(
      (await call(stack, 'GET', '/auth/sessions', { token: logins[0].access_token })).status,
      401,
      'oldest evicted',
    );
    assert.equal(
      (await call(stack, 'POST', '/auth/refresh', { body: { refresh_token: logins[0].refresh_token } })).status,
      401,
    );
    for (const l of logins.slice(1))
      assert.equal((await call(stack, 'GET', '/auth/sessions', { token: l.access_token })).status, 200);
  });

  test('logout ends the session: its access and refresh tokens stop working', async () => {
    const session = (await login('vera')).body;
    assert.equal((await call(stack, 'POST', '/auth/logout', { token: session.access_token })).status, 204);
    assert.equal((await call(stack, 'GET', '/auth/sessions', { token: session.access_token })).status, 401);
    assert.equal(
      (await call(stack, 'POST', '/auth/refresh', { body: { refresh_token: session.refresh_token } })).status,
      401,
    );
  });

  test('a password change ends every session of the user', async () => {
    await createUser(stack.pool, { username: 'paula', passwordHash: await hashPassword(PASSWORD), role: 'operator' });
    const a = (await login('paula')).body;
    const b = (await login('paula')).body;
    const short = await call(stack, 'POST', '/auth/password', {
      token: a.access_token,
      body: { current_password: PASSWORD, new_password: 'short' },
    });
    assert.deepEqual([short.status, short.body.code], [400, 'weak_password']);
    const changed = await call(stack, 'POST', '/auth/password', {
      token: a.access_token,
      body: { current_password: PASSWORD, new_password: 'a much longer new passphrase' },
    });
    assert.equal(changed.status, 204);
    assert.equal((await call(stack, 'GET', '/auth/sessions', { token: a.access_token })).status, 401);
    assert.equal((await call(stack, 'GET', '/auth/sessions', { token: b.access_token })).status, 401);
    assert.equal((await login('paula', PASSWORD)).status, 401);
    assert.equal((await login('paula', 'a much longer new passphrase')).status, 200);
  });

  test('roles: an agent token on /admin gets 403; a viewer gets 403; an admin may not grant roles; an owner may', async () => {
    const agentToken = await stack.token();
    const asAgent = await call(stack, 'GET', '/admin/users', { token: agentToken });
    assert.deepEqual([asAgent.status, asAgent.body.code], [403, 'forbidden']);
    const userOnAgentApi = await call(stack, 'GET', '/v1/intents', {
      token: (await login('olivia')).body.access_token,
    });
    assert.deepEqual([userOnAgentApi.status, userOnAgentApi.body.code], [403, 'forbidden']);

    const viewer = (await login('vera')).body.access_token;
    assert.equal((await call(stack, 'GET', '/admin/users', { token: viewer })).status, 403);

    const admin = (await login('adam')).body.access_token;
    const users = await call(stack, 'GET', '/admin/users', { token: admin });
    assert.equal(users.status, 200);
    const veraId = users.body.items.find((u: { username: string }) => u.username === 'vera').id;
    const adminGrant = await call(stack, 'POST', `/admin/users/${veraId}/role`, {
      token: admin,
      body: { role: 'operator' },
    });
    assert.deepEqual([adminGrant.status, adminGrant.body.code], [403, 'forbidden']);
    const adminMakesOwner = await call(stack, 'POST', '/admin/users', {
      token: admin,
      body: { username: 'eve', password: PASSWORD, role: 'owner' },
    });
    assert.deepEqual([adminMakesOwner.status, adminMakesOwner.body.code], [403, 'forbidden']);

    const owner = (await login('olivia')).body.access_token;
    const granted = await call(stack, 'POST', `/admin/users/${veraId}/role`, {
      token: owner,
      body: { role: 'operator' },
    });
    assert.equal(granted.status, 200);
    assert.equal(granted.body.role, 'operator');
    assert.equal(
      (await call(stack, 'GET', '/auth/sessions', { token: viewer })).status,
      401,
      'a role change ends the old sessions',
    );
    const created = await call(stack, 'POST', '/admin/users', {
      token: owner,
      body: { username: 'nora', password: PASSWORD, role: 'approver' },
    });
    assert.equal(created.status, 201);
    const duplicate = await call(stack, 'POST', '/admin/users', {
      token: owner,
      body: { username: 'nora', password: PASSWORD, role: 'approver' },
    });
    assert.deepEqual([duplicate.status, duplicate.body.code], [409, 'username_taken']);
    const disabled = await call(stack, 'POST', `/admin/users/${created.body.id}/disable`, { token: owner });
    assert.equal(disabled.body.disabled, true);
    assert.equal((await login('nora')).status, 401);
    const actions = await stack.pool.query("SELECT action FROM audit_log WHERE action LIKE 'user.%' ORDER BY seq");
    assert.deepEqual(
      actions.rows.map((r) => r.action),
      ['user.role_changed', 'user.created', 'user.disabled'],
    );
  });

  test("an admin lists a user's sessions and ends one at once (audited); not an owner's, nor another user's by its id", async () => {
    await createUser(stack.pool, { username: 'sam', passwordHash: await hashPassword(PASSWORD), role: 'operator' });
    const a = (await login('sam')).body;
    const b = (await login('sam')).body;
    const admin = (await login('adam')).body.access_token;
    const ids = Object.fromEntries(
      (await call(stack, 'GET', '/admin/users', { token: admin })).body.items.map(
        (u: { username: string; id: string }) => [u.username, u.id],
      ),
    );
    const listed = await call(stack, 'GET', `/admin/users/${ids.sam}/sessions`, { token: admin });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.items.length, 2);
    assert.deepEqual(Object.keys(listed.body.items[0]).sort(), [
      'createdAt',
      'expiresAt',
      'id',
      'ip',
      'lastSeenAt',
      'userAgent',
    ]);
    const own = (await call(stack, 'GET', '/auth/sessions', { token: a.access_token })).body.items;
    const sessionA = own.find((s: { current: boolean }) => s.current).id as string;

    const ownerSession = (await login('olivia')).body;
    const ownerSessionId = (await call(stack, 'GET', '/auth/sessions', { token: ownerSession.access_token })).body
      .items[0].id;
    const notOwners = await call(stack, 'DELETE', `/admin/users/${ids.olivia}/sessions/${ownerSessionId}`, {
      token: admin,
    });
    assert.deepEqual([notOwners.status, notOwners.body.code], [403, 'forbidden']);
    // Another user's session through sam's path: not found, and it goes on working.
    const crossed = await call(stack, 'DELETE', `/admin/users/${ids.sam}/sessions/${ownerSessionId}`, { token: admin });
    assert.deepEqual([crossed.status, crossed.body.code], [404, 'not_found']);
    assert.equal((await call(stack, 'GET', '/auth/sessions', { token: ownerSession.access_token })).status, 200);
    const garbage = await call(stack, 'DELETE', `/admin/users/${ids.sam}/sessions/not-a-session`, { token: admin });
    assert.deepEqual([garbage.status, garbage.body.code], [404, 'not_found']);
    const asOperator = (await call(stack, 'GET', `/admin/users/${ids.sam}/sessions`, { token: b.access_token })).body;
    assert.equal(asOperator.code, 'forbidden', 'an operator may not list users');

    const ended = await call(stack, 'DELETE', `/admin/users/${ids.sam}/sessions/${sessionA}`, { token: admin });
    assert.equal(ended.status, 204);
    assert.equal((await call(stack, 'GET', '/auth/sessions', { token: a.access_token })).status, 401, 'at once');
    assert.equal(
      (await call(stack, 'POST', '/auth/refresh', { body: { refresh_token: a.refresh_token } })).status,
      401,
      'its refresh token is spent',
    );
    assert.equal((await call(stack, 'GET', '/auth/sessions', { token: b.access_token })).status, 200, 'not the other');
    const again = await call(stack, 'DELETE', `/admin/users/${ids.sam}/sessions/${sessionA}`, { token: admin });
    assert.deepEqual([again.status, again.body.code], [404, 'not_found']);
    const audit = await stack.pool.query(
      `SELECT actor, record::jsonb->'data' AS data FROM audit_log WHERE action = 'user.session_ended' AND subject = $1`,
      [`user:${ids.sam}`],
    );
    assert.deepEqual(
      audit.rows.map((r) => [r.actor, r.data]),
      [[`user:${ids.adam}`, { sessionId: sessionA }]],
    );
  });

  test('10 failed logins from one IP within 5 minutes block it for 24 h, with an alert; the right password is refused too', async () => {
    // This gateway trusts no proxy, so the peer (127.0.0.1) is the client. Failures earlier in this file count
    // towards the same IP's total, so send only as many as are left to reach 10.
    const before = await count(stack.pool, "SELECT count(*)::int AS n FROM auth_failures WHERE ip = '127.0.0.1'");
    const codes: string[] = [];
    for (let i = before; i < 10; i += 1) codes.push((await login('olivia', 'wrong wrong wrong')).body.code);
    assert.equal(codes.at(-1), 'ip_blocked');
    assert.ok(codes.slice(0, -1).every((c) => c === 'invalid_credentials'));
    const right = await login('olivia');
    assert.deepEqual([right.status, right.body.code], [403, 'ip_blocked']);
    const block = await stack.pool.query(
      "SELECT until > now() + interval '23 hours' AS long FROM ip_blocks WHERE ip = '127.0.0.1'",
    );
    assert.deepEqual(block.rows, [{ long: true }]);
    const alert = await stack.pool.query("SELECT detail->>'ip' AS ip FROM alerts WHERE kind = 'ip_blocked'");
    assert.deepEqual(alert.rows, [{ ip: '127.0.0.1' }]);
    // Failures are logged without the secret: the password tried is nowhere in the table.
    const leaked = await count(
      stack.pool,
      "SELECT count(*)::int AS n FROM auth_failures WHERE reason LIKE '%wrong wrong%' OR subject LIKE '%wrong wrong%'",
    );
    assert.equal(leaked, 0);
  });

  test('rotating the access-token signing key ends every session at the next start', async () => {
    await stack.pool.query('DELETE FROM ip_blocks'); // the brute-force test above blocked 127.0.0.1
    const session = (await login('adam')).body;
    assert.equal((await call(stack, 'GET', '/auth/sessions', { token: session.access_token })).status, 200);
    const rotatedKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const rotated = await buildApp(
      { ...stack.config, jwtPrivateKeyPem: rotatedKey },
      { logger: false, tracker: false },
    );
    try {
      const ended = await count(
        stack.pool,
        "SELECT count(*)::int AS n FROM sessions WHERE revoked_reason = 'signing_key_rotated'",
      );
      assert.ok(ended >= 1);
      const refresh = await rotated.inject({
        method: 'POST',
        url: '/auth/refresh',
        payload: { refresh_token: session.refresh_token },
      });
      assert.deepEqual([refresh.statusCode, refresh.json().code], [401, 'invalid_refresh_token']);
      const audit = await count(
        stack.pool,
        "SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.signing_key_rotated'",
      );
      assert.equal(audit, 1);
    } finally {
      await rotated.close();
    }
  });
});

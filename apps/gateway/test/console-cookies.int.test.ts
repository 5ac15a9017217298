import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../src/repositories/users-repository.ts';
import { hashPassword } from '../src/lib/api-keys.ts';
import { startStack, type Stack } from './support/stack.ts';

const PASSWORD = 'correct horse battery staple';
type Cookie = {
  name: string;
  value: string;
  path?: string;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: string;
  maxAge?: number;
};

describe('console session cookies with CSRF protection', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
    await createUser(stack.pool, { username: 'olivia', passwordHash: await hashPassword(PASSWORD), role: 'owner' });
  });
  after(async () => stack?.stop());

  const jar = (cookies: Cookie[]) =>
    cookies
      .filter((c) => c.value)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  const cookieLogin = async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'olivia', password: PASSWORD, session: 'cookie' },
    });
    return { res, cookies: res.cookies as Cookie[], csrf: res.json().csrf_token as string };
  };

  test('a cookie login sets httpOnly, Secure, SameSite=Strict cookies and keeps the tokens out of the body', async () => {
    const { res, cookies } = await cookieLogin();
    assert.equal(res.statusCode, 200);
    assert.deepEqual(Object.keys(res.json()).sort(), ['csrf_token', 'expires_in', 'token_type']);
    assert.equal(res.json().token_type, 'Cookie');
    const byName = Object.fromEntries(cookies.map((c) => [c.name, c]));
    for (const name of ['c402_at', 'c402_rt', 'c402_csrf']) {
      assert.ok(byName[name], name);
      assert.equal(byName[name].httpOnly, true, `${name} httpOnly`);
      assert.equal(byName[name].secure, true, `${name} Secure`);
      assert.equal(byName[name].sameSite, 'Strict', `${name} SameSite`);
    }
    assert.equal(byName.c402_at!.path, '/');
    assert.equal(byName.c402_rt!.path, '/auth/refresh', 'the refresh cookie goes only to the refresh route');
  });

  test('reads work with the cookie alone; a state-changing request without the CSRF token is refused', async () => {
    const { cookies, csrf } = await cookieLogin();
    const headers = { cookie: jar(cookies) };
    assert.equal((await stack.app.inject({ method: 'GET', url: '/auth/sessions', headers })).statusCode, 200);
    const sessions = (await stack.app.inject({ method: 'GET', url: '/auth/sessions', headers })).json().items;
    const other = sessions.find((s: { current: boolean }) => !s.current) ?? sessions[0];
    const forged = await stack.app.inject({ method: 'DELETE', url: `/auth/sessions/${other.id}`, headers });
    assert.deepEqual([forged.statusCode, forged.json().code], [403, 'csrf_token_invalid']);
    const wrong = await stack.app.inject({
      method: 'DELETE',
      url: `/auth/sessions/${other.id}`,
      headers: { ...headers, 'x-csrf-token': `${csrf}x` },
    });
    assert.deepEqual([wrong.statusCode, wrong.json().code], [403, 'csrf_token_invalid']);
    const ok = await stack.app.inject({
      method: 'DELETE',
      url: `/auth/sessions/${other.id}`,
      headers: { ...headers, 'x-csrf-token': csrf },
    });
    assert.equal(ok.statusCode, 204);
  });

  test('refresh from the cookie needs the CSRF token and rotates the cookies', async () => {
    const { cookies, csrf } = await cookieLogin();
    const headers = { cookie: jar(cookies) };
    const forged = await stack.app.inject({ method: 'POST', url: '/auth/refresh', headers });
    assert.deepEqual([forged.statusCode, forged.json().code], [403, 'csrf_token_invalid']);
    const ok = await stack.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { ...headers, 'x-csrf-token': csrf },
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().token_type, 'Cookie');
    const rotated = (ok.cookies as Cookie[]).find((c) => c.name === 'c402_rt')!;
    assert.notEqual(rotated.value, cookies.find((c) => c.name === 'c402_rt')!.value);
  });

  test('an agent token in the cookie is refused; logout clears the cookies', async () => {
    const agentToken = await stack.token();
    const asCookie = await stack.app.inject({
      method: 'GET',
      url: '/v1/intents',
      headers: { cookie: `c402_at=${agentToken}` },
    });
    assert.equal(asCookie.statusCode, 401);
    const { cookies, csrf } = await cookieLogin();
    const out = await stack.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie: jar(cookies), 'x-csrf-token': csrf },
    });
    assert.equal(out.statusCode, 204);
    const cleared = (out.cookies as Cookie[]).filter((c) => ['c402_at', 'c402_rt'].includes(c.name));
    assert.equal(cleared.length, 2);
    assert.ok(cleared.every((c) => c.value === '' && (c.maxAge === 0 || c.maxAge === undefined)));
    assert.equal(
      (await stack.app.inject({ method: 'GET', url: '/auth/sessions', headers: { cookie: jar(cookies) } })).statusCode,
      401,
      'the session is over',
    );
  });

  test('bearer-token clients need no CSRF token', async () => {
    const login = await stack.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'olivia', password: PASSWORD },
    });
    const res = await stack.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { authorization: `Bearer ${login.json().access_token}` },
    });
    assert.equal(res.statusCode, 204);
  });
});

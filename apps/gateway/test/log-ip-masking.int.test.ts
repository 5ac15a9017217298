// Named regression (docs/logging.md): a failed login's log lines never hold the client's full address unless
// LOG_IP_MODE=full. The client address comes through a trusted proxy's X-Forwarded-For, as in production.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { startStack, type Stack } from './support/stack.ts';
import { captureLogs } from './support/submission.ts';

const PROXY = '192.0.2.1';

describe('client addresses in log lines', { timeout: 120_000 }, () => {
  let stack: Stack;
  const apps: FastifyInstance[] = [];
  before(async () => {
    stack = await startStack({ tracker: false });
  });
  after(async () => {
    for (const app of apps) await app.close();
    await stack?.stop();
  });

  async function failedLogin(mode: 'masked' | 'full', client: string): Promise<string> {
    const logs = captureLogs();
    const app = await buildApp(
      { ...stack.config, logIpMode: mode, trustedProxies: [PROXY] },
      { logger: { level: 'info', stream: logs.stream }, tracker: false, notifications: false },
    );
    apps.push(app);
    const res = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'nobody-here', password: 'not-the-password-123' },
      remoteAddress: PROXY,
      headers: { 'x-forwarded-for': client },
    });
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json().code, 'invalid_credentials');
    return logs.text();
  }

  test('masked (the default): a failed login from 203.0.113.57 logs 203.0.113.x, never the address', async () => {
    const text = await failedLogin('masked', '203.0.113.57');
    const lines = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = lines.find((l) => l.event === 'auth.login_failed');
    assert.ok(failed, text);
    assert.equal(failed.category, 'auth');
    assert.equal(failed.ip, '203.0.113.x');
    assert.equal(failed.reason, 'unknown user');
    const incoming = lines.find((l) => l.msg === 'incoming request');
    assert.equal((incoming?.req as { remoteAddress?: string } | undefined)?.remoteAddress, '203.0.113.x');
    assert.ok(!text.includes('203.0.113.57'), text);
    assert.ok(!text.includes('nobody-here'), 'the name typed is not logged either');
    assert.match(String(failed.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  test('masked: an IPv6 client keeps only its /48', async () => {
    const text = await failedLogin('masked', '2001:db8:abcd:12::7');
    assert.ok(text.includes('"ip":"2001:db8:abcd:x:x:x:x:x"'), text);
    assert.ok(!text.includes('abcd:12'), text);
  });

  test('full: the address is logged whole', async () => {
    const text = await failedLogin('full', '198.51.100.77');
    assert.ok(text.includes('"ip":"198.51.100.77"'), text);
    assert.ok(!text.includes('198.51.100.x'), text);
  });
});

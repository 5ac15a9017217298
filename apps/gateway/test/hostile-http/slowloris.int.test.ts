/**
 * Slowloris: a client that sends its headers, or its body, a few bytes at a time to hold a connection open forever.
 * The gateway cuts it off: headers must arrive within `timeouts.headersMs` and the whole request within
 * `timeouts.requestMs` (10 s and 30 s in production, checked every second; a gateway built here with 1 s and 2 s,
 * checked every 250 ms, so the test is short). The cut-off answers 408 request_timeout and closes the connection.
 * Fifty slow connections at once do not stop the gateway from serving others. No timing is asserted: the test's own
 * timeout is what fails if a slow sender is never cut off.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { assertRefusedAndClosed, assertStillServing, head, rawExchange, type RawStep } from '../support/raw-http.ts';

/** `text` one piece at a time with a pause before each: at most `seconds` of trickling. */
function trickle(prefix: string, pieces: number, pauseMs = 250): RawStep[] {
  const steps: RawStep[] = [prefix];
  for (let i = 0; i < pieces; i += 1) steps.push({ pauseMs }, i % 2 === 0 ? 'X-Slow: a\r\n' : 'X-Slower: b\r\n');
  return steps;
}

describe('header and body slowloris are cut off with 408 request_timeout', { timeout: 180_000 }, () => {
  let stack: Stack;
  let app: FastifyInstance;
  let baseUrl: string;
  let token: string;
  before(async () => {
    stack = await startStack({ tracker: false });
    app = await buildApp(stack.config, {
      logger: false,
      tracker: false,
      notifications: false,
      timeouts: { headersMs: 1_000, requestMs: 2_000, checkIntervalMs: 250 },
    });
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    token = await stack.token();
  });
  after(async () => {
    await app?.close();
    await stack?.stop();
  });

  test('header slowloris: a header line every 250 ms, never the blank line → 408 request_timeout, closed', async () => {
    const ex = await rawExchange(baseUrl, trickle('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n', 80), {
      waitMs: 5_000,
    });
    assertRefusedAndClosed(ex, 408, 'request_timeout');
    await assertStillServing(baseUrl, token);
  });

  test('header slowloris: the request line itself one byte at a time → 408 request_timeout, closed', async () => {
    const steps: RawStep[] = [];
    for (const c of 'POST /v1/intents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ')
      steps.push(c, { pauseMs: 100 });
    assertRefusedAndClosed(await rawExchange(baseUrl, steps, { waitMs: 5_000 }), 408, 'request_timeout');
    await assertStillServing(baseUrl, token);
  });

  for (const [path, auth] of [
    ['/auth/token', false],
    ['/v1/intents', true],
  ] as const) {
    test(`body slowloris on ${path}: complete headers, then one body byte every 250 ms → 408 request_timeout, closed`, async () => {
      const body = `{"memo":"${'x'.repeat(200)}"}`;
      const headers = {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...(auth ? { authorization: `Bearer ${token}` } : {}),
      };
      const steps: RawStep[] = [`${head('POST', path, headers)}\r\n`];
      for (const c of body.slice(0, 60)) steps.push({ pauseMs: 250 }, c);
      assertRefusedAndClosed(await rawExchange(baseUrl, steps, { waitMs: 5_000 }), 408, 'request_timeout');
      await assertStillServing(baseUrl, token);
    });
  }

  test('fifty slow connections at once: the gateway serves others meanwhile, and cuts every one off', async () => {
    const slow = Array.from({ length: 50 }, (_, i) =>
      rawExchange(
        baseUrl,
        trickle(
          i % 2 === 0
            ? 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n'
            : `${head('POST', '/auth/token', { 'content-type': 'application/json', 'content-length': 500 })}\r\n{`,
          40,
        ),
        { waitMs: 5_000 },
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // they are all connected and trickling
    await assertStillServing(baseUrl, token);
    const results = await Promise.all(slow);
    for (const ex of results) assertRefusedAndClosed(ex, 408, 'request_timeout');
    await assertStillServing(baseUrl, token);
  });

  test('the production defaults: headers within 10 s, the request within 30 s, checked every second', async () => {
    const production = await buildApp(stack.config, { logger: false, tracker: false, notifications: false });
    try {
      assert.equal(production.server.headersTimeout, 10_000);
      assert.equal(production.server.requestTimeout, 30_000);
    } finally {
      await production.close();
    }
  });
});

// The SDK's HTTP edge cases against a scripted local server: retries keep their Idempotency-Key, Retry-After is waited
// out, answers that carry a recorded intent are never repeated, tokens are exchanged once and renewed.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Clawd402Client, Clawd402ClientError } from '../src/index.ts';
import { Transport, retryAfterMs } from '../src/transport.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
type Step = (res: ServerResponse, req: Seen) => void;

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Step => {
  return (res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
};
const hangUp: Step = (res) => res.socket?.destroy();
const INTENT = { id: '11111111-1111-4111-8111-111111111111', status: 'submitted', txHash: '0xabc', decision: null };

describe('SDK transport', { timeout: 60_000 }, () => {
  let server: Server;
  let baseUrl: string;
  let script: Step[] = [];
  let seen: Seen[] = [];
  let sleeps: number[] = [];
  let tokens = 0;

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const entry = { method: req.method!, url: req.url!, headers: req.headers, body };
        if (req.url === '/auth/token') {
          tokens += 1;
          return json(200, { access_token: `token-${tokens}`, token_type: 'Bearer', expires_in: 900 })(res, entry);
        }
        seen.push(entry);
        const step = script.shift() ?? json(500, { code: 'internal_error', message: 'unscripted' });
        step(res, entry);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  beforeEach(() => {
    script = [];
    seen = [];
    sleeps = [];
    tokens = 0;
  });

  const transport = (overrides: Partial<ConstructorParameters<typeof Transport>[0]> = {}) =>
    new Transport({
      apiUrl: baseUrl,
      apiKey: 'c402_test',
      timeoutMs: 5_000,
      retries: 3,
      maxRetryAfterMs: 60_000,
      fetch: globalThis.fetch,
      sleep: async (ms) => void sleeps.push(ms),
      ...overrides,
    });

  test('a write retried after 503, a dropped connection and 429 carries the same Idempotency-Key every time', async () => {
    script = [
      json(503, { code: 'service_unavailable', message: 'busy' }),
      hangUp,
      json(429, { code: 'rate_limited', message: 'slow down' }, { 'retry-after': '7' }),
      json(201, INTENT),
    ];
    const answer = await transport().request('POST', '/v1/intents', {
      body: { type: 'transfer' },
      idempotencyKey: 'k-1',
    });
    assert.equal(answer.status, 201);
    assert.equal(seen.length, 4);
    assert.deepEqual(
      seen.map((s) => s.headers['idempotency-key']),
      ['k-1', 'k-1', 'k-1', 'k-1'],
    );
    assert.ok(seen.every((s) => s.body === '{"type":"transfer"}'));
    // Retry-After: 7 is waited out in full before the fourth attempt (counted from the refusal: less the few
    // milliseconds already gone).
    assert.ok(sleeps[2]! >= 6_900, `slept ${sleeps.join(',')}`);
    assert.equal(tokens, 1, 'one token exchange serves every attempt');
  });

  test('a Retry-After holds every request of the client, not only the one it answered', async () => {
    script = [json(429, { code: 'rate_limited', message: 'slow down' }, { 'retry-after': '3' }), json(201, INTENT)];
    const client = transport();
    await client.request('POST', '/v1/intents', { body: {}, idempotencyKey: 'k-2' });
    sleeps = [];
    script = [json(200, INTENT)];
    // The sleeps here are recorded, not slept: no time passed, so the next request still waits about 3 s first.
    await client.request('GET', '/v1/intents/x');
    assert.equal(seen.length, 3);
    assert.ok(sleeps[0]! >= 2_900, `slept ${sleeps.join(',')}`);
  });

  test('a write without an Idempotency-Key is not repeated after a 5xx or a dropped connection', async () => {
    script = [json(502, { code: 'bad_gateway', message: 'x' })];
    await assert.rejects(transport().request('POST', '/v1/intents', { body: {} }), {
      code: 'bad_gateway',
      status: 502,
    });
    script = [hangUp];
    await assert.rejects(transport().request('POST', '/v1/intents', { body: {} }), { code: 'network_error' });
    assert.equal(seen.length, 2);
  });

  test('an answer that carries a recorded intent is final: a 5xx failed intent is not repeated', async () => {
    script = [json(503, { code: 'signer_unavailable', message: 'down', intent: { ...INTENT, status: 'failed' } })];
    await assert.rejects(
      transport().request('POST', '/v1/intents', { body: {}, idempotencyKey: 'k-2' }),
      (e: Clawd402ClientError) => e.code === 'signer_unavailable' && e.intent?.status === 'failed',
    );
    assert.equal(seen.length, 1);
  });

  test('a Retry-After longer than the client waits is thrown with the time asked', async () => {
    script = [json(429, { code: 'rate_limited', message: 'slow down' }, { 'retry-after': '600' })];
    await assert.rejects(transport().request('GET', '/v1/budget'), (e: Clawd402ClientError) => {
      return e.code === 'rate_limited' && e.retryAfterMs === 600_000 && e.status === 429;
    });
    assert.equal(seen.length, 1);
  });

  test('retries stop after the configured number; the last error is thrown', async () => {
    script = [1, 2, 3, 4].map(() => json(500, { code: 'internal_error', message: 'x' }));
    await assert.rejects(transport({ retries: 2 }).request('GET', '/v1/budget'), { code: 'internal_error' });
    assert.equal(seen.length, 3);
  });

  test('a token the gateway stops accepting is exchanged again once', async () => {
    script = [json(401, { code: 'unauthenticated', message: 'x' }), json(200, { budgets: [] })];
    const t = transport();
    await t.request('GET', '/v1/budget');
    assert.equal(tokens, 2);
    assert.deepEqual(
      seen.map((s) => s.headers.authorization),
      ['Bearer token-1', 'Bearer token-2'],
    );
    script = [
      json(401, { code: 'unauthenticated', message: 'x' }),
      json(401, { code: 'unauthenticated', message: 'x' }),
    ];
    await assert.rejects(t.request('GET', '/v1/budget'), { code: 'unauthenticated' });
  });

  test('a policy denial is a typed error with the code, reasons and remaining budgets', async () => {
    const budgets = [
      { scope: 'agent', window: '24h', limitUsd: '10', spentUsd: '9', remainingUsd: '1', freesAt: null },
    ];
    const reasons = [{ code: 'spend.limit_exceeded', message: 'over' }];
    script = [
      json(403, {
        code: 'policy_denied',
        message: 'The policy rejected the intent; nothing was signed.',
        intent: { ...INTENT, status: 'rejected', decision: { action: 'reject', reasons, money: { budgets } } },
      }),
    ];
    const client = new Clawd402Client({ apiUrl: baseUrl, apiKey: 'c402_test', chainId: 31337 });
    const error = await client
      .execute({ action: 'transfer', to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', amount: '1' })
      .then(
        () => assert.fail('not refused'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof Clawd402ClientError);
    assert.equal(error.code, 'policy_denied');
    assert.equal(error.status, 403);
    assert.deepEqual(error.reasons, reasons);
    assert.deepEqual(error.budgets, budgets);
    assert.equal(seen.length, 1);
    assert.match(String(seen[0]!.headers['idempotency-key']), /^[0-9a-f-]{36}$/);
  });

  test('Retry-After reads delay-seconds and HTTP dates; garbage is ignored', () => {
    const now = Date.parse('2026-12-02T04:00:00Z');
    assert.equal(retryAfterMs('3', now), 3_000);
    assert.equal(retryAfterMs('Wed, 02 Dec 2026 04:00:10 GMT', now), 10_000);
    assert.equal(retryAfterMs('Wed, 02 Dec 2026 03:00:00 GMT', now), 0);
    assert.equal(retryAfterMs('soon', now), undefined);
    assert.equal(retryAfterMs('-1', now), undefined);
    assert.equal(retryAfterMs(null, now), undefined);
  });

  test('client-side refusals: a private key, a key selection, skipping simulation, plain HTTP to a remote host', async () => {
    const client = new Clawd402Client({ apiUrl: baseUrl, apiKey: 'c402_test', chainId: 31337 });
    const to = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
    await assert.rejects(
      client.execute({ action: 'transfer', to, amount: '1', wallet: { type: 'private_key', privateKey: '0x01' } }),
      (e: Clawd402ClientError) => e.code === 'wallet_private_key_refused' && /signer/.test(e.message),
    );
    await assert.rejects(
      client.execute({ action: 'transfer', to, amount: '1', wallet: { type: 'keystore', address: to } }),
      (e: Clawd402ClientError) => e.code === 'wallet_selection_unsupported' && /one signer key/.test(e.message),
    );
    await assert.rejects(client.execute({ action: 'transfer', to, amount: '1', simulate: false }), {
      code: 'invalid_option',
    });
    await assert.rejects(client.execute({ action: 'transfer', to, amount: 1e21 }), { code: 'invalid_option' });
    assert.equal(seen.length, 0, 'nothing reached the gateway');
    assert.throws(() => new Clawd402Client({ apiUrl: 'http://gateway.example.org', apiKey: 'k' }), {
      code: 'invalid_option',
    });
    assert.throws(() => new Clawd402Client({ apiUrl: baseUrl, apiKey: 'k', mevProtection: false }), {
      code: 'invalid_option',
    });
    assert.throws(() => new Clawd402Client({ apiUrl: baseUrl }), { code: 'invalid_option' });
  });
});

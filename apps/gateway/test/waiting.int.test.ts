// Waiting on intents (docs/waiting.md): one SSE stream or one multi-id long-poll waits on many intents; every waiter
// in a process is woken by the one LISTEN connection, so idle waiters cost no query; shutdown answers them all.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import { ANVIL_ACCOUNTS } from '@clawd402/testkit';
import { RECIPIENTS, getJson, postIntent, startStack, type Stack } from './support/stack.ts';

const SETTLED = new Set(['rejected', 'confirmed', 'failed', 'dropped', 'replaced', 'cancelled', 'expired']);

interface SseEvent {
  event: string;
  data: any;
}

/** An SSE stream on its own connection: its events as they come, and a way to wait for one. */
function openStream(url: string, token: string) {
  const events: SseEvent[] = [];
  const listeners = new Set<() => void>();
  let ended = false;
  let status = 0;
  let buffer = '';
  let text = '';
  const req: ClientRequest = request(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
    status = res.statusCode ?? 0;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      text += chunk;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event) events.push({ event, data: data ? JSON.parse(data) : null });
      }
      for (const l of listeners) l();
    });
    res.on('end', () => {
      ended = true;
      for (const l of listeners) l();
    });
  });
  req.on('error', () => {
    ended = true;
    for (const l of listeners) l();
  });
  req.end();
  return {
    events,
    get status() {
      return status;
    },
    get ended() {
      return ended;
    },
    /** Everything received (for a plain response: its body). */
    get text() {
      return text;
    },
    close: () => req.destroy(),
    /** Resolve once `done(events)` holds (or the stream ends: then it rejects). */
    until(done: (events: SseEvent[]) => boolean, what: string, ms = 120_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), ms);
        const check = (): void => {
          if (done(events)) finish();
          else if (ended) finish(new Error(`stream ended before ${what}`));
        };
        function finish(error?: Error): void {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        }
        listeners.add(check);
        check();
      });
    },
  };
}

/** A long-poll on its own connection (fetch's pool would queue most of a thousand), which can be abandoned. */
function getOwn(url: string, token: string): { done: Promise<{ status: number; body: any }>; req: { abort(): void } } {
  const stream = openStream(url, token);
  const done = stream
    .until(() => stream.ended, 'the answer', 600_000)
    .catch(() => {})
    .then(() => ({ status: stream.status, body: stream.text ? JSON.parse(stream.text) : null }));
  return { done, req: { abort: stream.close } };
}

const transfer = (stack: Stack, i: number) => ({
  type: 'transfer',
  chainId: stack.anvil.chainId,
  to: RECIPIENTS[i % 3]!,
  asset: 'native',
  amount: '0.0001',
});

/** A transfer the test policy refuses (the recipient is not one it allows): a settled intent that never changes. */
const refused = (stack: Stack) => ({
  type: 'transfer',
  chainId: stack.anvil.chainId,
  to: ANVIL_ACCOUNTS[0].address,
  asset: 'native',
  amount: '0.0001',
});

describe('waiting on many intents', { timeout: 600_000 }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => stack?.stop());

  test('one SSE stream follows 20 concurrent intents of the agent until every one is confirmed', async () => {
    const token = await stack.token();
    const stream = openStream(`${stack.baseUrl}/v1/intents/events`, token);
    await stream.until((e) => e.some((x) => x.event === 'heartbeat'), 'the first heartbeat');
    assert.equal(stream.status, 200);
    const posted = await Promise.all(
      Array.from({ length: 20 }, (_, i) => postIntent(stack.baseUrl, token, transfer(stack, i))),
    );
    const ids = posted.map((p) => {
      assert.ok([201, 202].includes(p.status), JSON.stringify(p.body));
      return p.body.id as string;
    });
    const final = (id: string) => stream.events.find((e) => e.event === 'intent' && e.data.id === id && e.data.settled);
    await stream.until(() => ids.every(final), 'all 20 to settle');
    for (const id of ids) {
      const event = final(id)!.data;
      assert.equal(event.status, 'confirmed');
      assert.match(event.txHash, /^0x[0-9a-f]{64}$/);
      assert.equal(event.decision.action, 'auto_approve');
      assert.equal(event.error, null);
    }
    // Another agent's intents never appear on this agent's stream.
    const other = await stack.newAgent('waiting-other');
    const theirs = await postIntent(stack.baseUrl, await stack.token(other.apiKey), refused(stack));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(!stream.events.some((e) => e.data?.id === theirs.body.intent.id));
    stream.close();
  });

  test('one multi-id long-poll (GET /v1/intents?ids=…&wait=20) waits on 10 intents until all settle', async () => {
    const token = await stack.token();
    const posted = await Promise.all(
      Array.from({ length: 10 }, (_, i) => postIntent(stack.baseUrl, token, transfer(stack, i))),
    );
    let pending = posted.map((p) => p.body.id as string);
    let polls = 0;
    const seen = new Map<string, string>();
    while (pending.length > 0) {
      assert.ok(polls < 200, 'too many polls');
      polls += 1;
      const res = await getJson(`${stack.baseUrl}/v1/intents?ids=${pending.join(',')}&wait=20`, token);
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.items.map((i: any) => i.id),
        pending,
        'the listed intents, in the order asked',
      );
      for (const item of res.body.items) seen.set(item.id, item.status);
      pending = res.body.items.filter((i: any) => !SETTLED.has(i.status)).map((i: any) => i.id);
    }
    assert.deepEqual([...new Set(seen.values())], ['confirmed']);
    console.log(`[waiting] 10 intents settled through ${polls} multi-id long-polls`);
  });

  test('ids that are not UUIDs answer 400 invalid_request; wait on the list needs ids', async () => {
    const token = await stack.token();
    const bad = await getJson(`${stack.baseUrl}/v1/intents/events?ids=not-a-uuid-at-all-but-36-characters!`, token);
    assert.deepEqual([bad.status, bad.body.code], [400, 'invalid_request']);
    const noIds = await getJson(`${stack.baseUrl}/v1/intents?wait=5`, token);
    assert.deepEqual([noIds.status, noIds.body.code], [400, 'invalid_request']);
  });

  test('1,000 idle waiters (900 long-polls, 100 SSE streams) cost no query; the 1,001st is refused too_many_waiters', async () => {
    const agent = await stack.newAgent('waiting-idle');
    const token = await stack.token(agent.apiKey);
    const denied = await postIntent(stack.baseUrl, token, refused(stack));
    assert.equal(denied.body.intent.status, 'rejected');
    const id = denied.body.intent.id as string;
    const { watcher, pool } = stack.app.services;
    const before = watcher.waiting;
    const polls = Array.from({ length: 900 }, () => getOwn(`${stack.baseUrl}/v1/intents/${id}?wait=60`, token));
    const streams = Array.from({ length: 100 }, () =>
      openStream(`${stack.baseUrl}/v1/intents/events?ids=${id}`, token),
    );
    await Promise.all(streams.map((s) => s.until((e) => e.some((x) => x.event === 'intent'), 'the initial state')));
    for (let i = 0; watcher.waiting < before + 1_000; i += 1) {
      assert.ok(i < 600, `only ${watcher.waiting - before} waiters registered`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // Count every query the gateway's pool sends while the 1,000 wait and nothing changes. Postgres-side counters
    // (pg_stat_database) would also count the background workers' ticks; the pool wrapper counts exactly what this
    // process asks, and we report how many of those read intents (what a polling waiter would read).
    const original = pool.query.bind(pool);
    const texts: string[] = [];
    pool.query = ((...args: any[]) => {
      const text = typeof args[0] === 'string' ? args[0] : (args[0]?.text ?? '');
      texts.push(text);
      return (original as any)(...args);
    }) as typeof pool.query;
    try {
      await new Promise((resolve) => setTimeout(resolve, 5_000));
    } finally {
      pool.query = original;
    }
    // The reads a waiter would make (one intent, several, or the embedded poll); the tracker's own queries on
    // in-flight intents are background work that runs whether anyone waits or not.
    const waiterReads = texts.filter((t) =>
      /FROM intents WHERE id = (?:\$1|ANY)|FROM intents\s+WHERE agent_id = ANY/.test(t),
    );
    const onIntents = texts.filter((t) => /\bintents\b/.test(t)).length;
    console.log(
      `[waiting] 1,000 idle waiters for 5 s: ${waiterReads.length} waiter reads; ${texts.length} pool queries in all, ${onIntents} of them the tracker's on intents`,
    );
    assert.equal(waiterReads.length, 0, 'no waiter read intents while nothing changed');

    const extra = await getJson(`${stack.baseUrl}/v1/intents/${id}?wait=5`, token);
    assert.deepEqual([extra.status, extra.body.code], [429, 'too_many_waiters']);

    for (const p of polls) p.req.abort();
    for (const s of streams) s.close();
    for (let i = 0; watcher.waiting > before; i += 1) {
      assert.ok(i < 300, 'waiters were not released when their clients went away');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  test('shutdown answers every open stream (event shutdown) and multi-id long-poll at once', async () => {
    const gateway = await stack.spawnGateway();
    const token = await stack.token();
    const denied = await postIntent(gateway.baseUrl, token, refused(stack));
    const id = denied.body.intent.id as string;
    const pendingTransfer = await postIntent(gateway.baseUrl, token, transfer(stack, 0));
    void pendingTransfer;
    const streams = Array.from({ length: 5 }, () => openStream(`${gateway.baseUrl}/v1/intents/events`, token));
    await Promise.all(streams.map((s) => s.until((e) => e.some((x) => x.event === 'heartbeat'), 'the heartbeat')));
    const poll = getOwn(`${gateway.baseUrl}/v1/intents/${id}?wait=60`, token);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await gateway.stop();
    for (const s of streams) {
      await s.until((e) => e.some((x) => x.event === 'shutdown'), 'the shutdown event', 15_000);
      await s.until(() => s.ended, 'the end of the stream', 15_000).catch(() => {});
      assert.ok(s.ended);
    }
    const answered = await poll.done;
    assert.deepEqual([answered.status, answered.body.status], [200, 'rejected']);
  });
});

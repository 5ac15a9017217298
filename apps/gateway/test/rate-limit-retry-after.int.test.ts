// Regression (issue 12): under the DEFAULT rate limits, an agent that sends a burst of intents and waits on them,
// honouring every Retry-After it is given, is never blocked (no `rate_limit_blocked`, let alone for an hour); a client
// that hammers through Retry-After is blocked as before. Progressive blocks count only requests that ignore a
// Retry-After already told (docs/rate-limits.md).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Clawd402Client } from '@clawd402/sdk';
import { RECIPIENTS, postIntent, startStack, type Stack } from './support/stack.ts';

/** The documented defaults (docs/configuration.md), over the stack's "out of the way" test limits. */
const DEFAULT_LIMITS = {
  RATE_LIMIT_IP_PER_MIN: '100',
  RATE_LIMIT_PRINCIPAL_PER_MIN: '60',
  RATE_LIMIT_PRINCIPAL_BURST: '20',
  RATE_LIMIT_INTENTS_PER_MIN: '30',
  RATE_LIMIT_AUTH_PER_MIN: '20',
  RATE_LIMIT_ADMIN_PER_MIN: '60',
  RATE_LIMIT_INTENT_READS_PER_MIN: '600',
};

describe('rate limits and waiting under the default limits', { timeout: 900_000 }, () => {
  let stack: Stack;
  let hammerToken: string;
  before(async () => {
    stack = await startStack({
      env: { ...DEFAULT_LIMITS, RATE_LIMIT_REDIS_PREFIX: `test:rl:${randomBytes(6).toString('hex')}:` },
    });
    // The hammer's token first, while the address's window is empty.
    hammerToken = await stack.token((await stack.newAgent('hammer')).apiKey);
  });
  after(async () => stack?.stop());

  // The SDK as an agent uses it: 100 execute calls at once, then one wait for all of them (one long-poll of up to 100
  // ids at a time). Its transport holds the whole client for a Retry-After and retries refused requests one at a
  // time; the burst's first attempts may arrive well after its first refusal on a loaded machine, on connections of
  // their own, and count nothing.
  test('100 concurrent SDK execute calls under the default limits, waited on through one long-poll: all settle, zero rate_limit_blocked', async () => {
    const refusals = new Map<string, number>();
    const waits: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      if (url.pathname === '/v1/intents' && init?.method === 'GET') waits.push(url.search);
      const res = await fetch(input, init);
      if (res.status === 429) {
        const code = ((await res.clone().json()) as { code: string }).code;
        refusals.set(code, (refusals.get(code) ?? 0) + 1);
      }
      return res;
    };
    const client = new Clawd402Client({
      apiUrl: stack.baseUrl,
      apiKey: stack.agent.apiKey,
      chainId: stack.anvil.chainId,
      fetch: recording,
      retries: 50,
    });
    const sent = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        client
          .execute({ action: 'transfer', to: RECIPIENTS[i % 3]!, asset: 'native', amount: '0.0001' })
          .then((r) => r.intent.id),
      ),
    );
    assert.equal(new Set(sent).size, 100);
    const settled = await client.wait(sent, { timeoutMs: 600_000 });
    const outcomes = settled.map((intent) => intent.status);
    assert.ok(
      outcomes.every((s) => s === 'confirmed' || s === 'rejected'),
      `confirmed or refused by policy: ${outcomes.join(',')}`,
    );
    console.log(
      `[retry-after] 100 intents: ${outcomes.filter((s) => s === 'confirmed').length} confirmed; 429s: ${JSON.stringify(Object.fromEntries(refusals))}; ${waits.length} wait requests`,
    );
    assert.equal(refusals.get('rate_limit_blocked') ?? 0, 0, 'a client honouring Retry-After is never blocked');
    assert.ok((refusals.get('rate_limited') ?? 0) > 0, 'the default limits did refuse some of the burst');
    assert.ok(
      waits.every((search) => /^\?ids=[0-9a-f-]{36}(,[0-9a-f-]{36}){0,99}(&wait=\d+)?$/.test(search)),
      `every wait is one long-poll over many ids: ${waits.slice(0, 3).join(' ')}`,
    );
    assert.ok(waits.length < 100, `fewer wait requests than intents (${waits.length})`);
  });

  test('a client hammering through Retry-After on its kept-alive connection is still blocked (rate_limit_blocked)', async () => {
    const seen: string[] = [];
    // fetch keeps the connection alive: each request after a refusal comes on a connection already told, and counts.
    // Bounded by count, not time: however fast the machine, enough of these arrive inside a Retry-After to count.
    for (let i = 0; i < 4_000 && !seen.includes('rate_limit_blocked'); i += 1) {
      const res = await postIntent(stack.baseUrl, hammerToken, { type: 'transfer' }); // invalid; counted all the same
      if (res.status === 429) seen.push(res.body.code);
    }
    assert.ok(seen.includes('rate_limit_blocked'), `codes seen: ${[...new Set(seen)].join(',')}`);
  });
});

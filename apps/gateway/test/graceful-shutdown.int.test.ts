// Graceful shutdown of a real gateway process (server.ts): on SIGTERM it stops accepting, answers every waiting
// long-poll at once with the intent's current state, lets in-flight intents finish, stops its workers and exits —
// instead of waiting out each `?wait=60`. Exit times are measured and reported, never asserted (only a hang guard).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ANVIL_ACCOUNTS } from '@clawd402/testkit';
import { RECIPIENTS, getJson, postIntent, startStack, type Stack } from './support/stack.ts';

/** Far above the 5 s the gateway gives itself: only a hang fails the test. */
const HANG_GUARD_MS = 15_000;
const POLLERS = 100;

/** GET with its own connection (no shared keep-alive pool), answering status and parsed body. */
function getOwnConnection(url: string, token: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** SIGTERM the process and wait for it to exit; answers the milliseconds it took. A hang kills it and fails. */
async function terminate(gateway: { pid: number; stop(): Promise<void> }): Promise<number> {
  const started = performance.now();
  let guard: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => (guard = setTimeout(() => resolve('hang'), HANG_GUARD_MS)));
  const outcome = await Promise.race([gateway.stop().then(() => 'exited' as const), hang]);
  clearTimeout(guard);
  if (outcome === 'hang') {
    process.kill(gateway.pid, 'SIGKILL');
    assert.fail(`the gateway did not exit within ${HANG_GUARD_MS} ms of SIGTERM`);
  }
  return Math.round(performance.now() - started);
}

async function waitingLongPolls(baseUrl: string, adminToken: string): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  assert.equal(res.status, 200);
  const line = (await res.text()).split('\n').find((l) => l.startsWith('clawd402_long_polls_waiting '));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('graceful shutdown of a gateway process', { timeout: 240_000 }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ tracker: false });
  });
  after(async () => stack?.stop());

  test(`SIGTERM with ${POLLERS} waiting long-polls: every poller is answered 200 with its intent's status, and the process exits`, async (t: TestContext) => {
    const gateway = await stack.spawnGateway();
    const token = await stack.token();
    const admin = await stack.loginAs('admin');
    // Intents that will not change: denied by the test policy (the recipient is not one it allows).
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const denied = await postIntent(gateway.baseUrl, token, {
        type: 'transfer',
        chainId: stack.anvil.chainId,
        to: ANVIL_ACCOUNTS[0].address,
        asset: 'native',
        amount: '0.001',
      });
      assert.deepEqual(
        [denied.status, denied.body.code, denied.body.intent.status],
        [403, 'policy_denied', 'rejected'],
      );
      ids.push(denied.body.intent.id as string);
    }
    const polls = Array.from({ length: POLLERS }, (_, i) => {
      const id = ids[i % ids.length]!;
      return getOwnConnection(`${gateway.baseUrl}/v1/intents/${id}?wait=60`, token).then((answer) => ({
        id,
        ...answer,
      }));
    });
    polls.forEach((p) => p.catch(() => {})); // awaited below; a connection error fails the test there
    for (let i = 0; (await waitingLongPolls(gateway.baseUrl, admin)) < POLLERS; i += 1) {
      assert.ok(i < 300, 'the long-polls did not all start waiting');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const exitMs = await terminate(gateway);
    t.diagnostic(`exit ${exitMs} ms after SIGTERM with ${POLLERS} long-polls waiting`);
    const answers = await Promise.all(polls);
    for (const answer of answers) {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual([answer.body.id, answer.body.status], [answer.id, 'rejected']);
    }
  });

  test('a clean shutdown during a stream of intents leaves no intent approved but unsigned', async (t: TestContext) => {
    const gateway = await stack.spawnGateway();
    const agent = await stack.newAgent('shutdown-stream');
    const token = await stack.token(agent.apiKey);
    const count = async (where: string): Promise<number> =>
      (
        await stack.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM intents WHERE agent_id = $1 AND ${where}`,
          [agent.agentId],
        )
      ).rows[0]!.n;
    // Auto-approved transfers, sent without waiting for each other; the SIGTERM lands while some are in the pipeline.
    const posts = Array.from({ length: 30 }, (_, i) =>
      postIntent(gateway.baseUrl, token, {
        type: 'transfer',
        chainId: stack.anvil.chainId,
        to: RECIPIENTS[i % RECIPIENTS.length]!,
        asset: 'native',
        amount: '0.001',
      }).then(
        (res) => res.status,
        () => 'no answer' as const,
      ),
    );
    for (let i = 0; (await count('true')) === 0; i += 1) {
      assert.ok(i < 300, 'no intent was recorded');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const exitMs = await terminate(gateway);
    const outcomes = await Promise.all(posts);
    const recorded = await count('true');
    t.diagnostic(
      `exit ${exitMs} ms after SIGTERM; ${recorded} of ${posts.length} intents recorded; answers ${JSON.stringify(outcomes)}`,
    );
    assert.equal(await count(`status = 'approved'`), 0, 'an intent was left approved but unsigned');
    // Everything recorded was carried through: signed (and broadcast, or left for the next process to broadcast).
    assert.equal(await count(`status IN ('signed', 'submitted', 'confirmed')`), recorded);
    // Every request was answered with its intent, refused (503, the server was closing) or never connected.
    for (const outcome of outcomes) assert.ok([201, 202, 503, 'no answer'].includes(outcome), String(outcome));
    const answered = outcomes.filter((o) => o === 201 || o === 202).length;
    assert.ok(answered <= recorded);
    // The intents are still readable through another process.
    const one = await stack.pool.query<{ id: string }>('SELECT id FROM intents WHERE agent_id = $1 LIMIT 1', [
      agent.agentId,
    ]);
    const view = await getJson(`${stack.baseUrl}/v1/intents/${one.rows[0]!.id}`, token);
    assert.equal(view.status, 200);
  });
});

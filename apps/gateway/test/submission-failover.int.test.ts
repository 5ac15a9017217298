// RPC failover and URL secrecy (docs/submission.md). The primary endpoint is a TCP proxy in front of the test anvil
// that the test stops: that is exactly "the primary endpoint is down" (connections refused) while the chain itself —
// reached through the fallback URL — carries on with the same state. The credentials and API key below are made up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { RECIPIENTS, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';
import { captureLogs, startTcpProxy, type TcpProxy } from './support/submission.ts';

const PASSWORD = 'pw-f4k3-n0t-a-r3al-s3cret';
const API_KEY = 'k3y-f4k3-0123456789abcdef';
const PATH_KEY = 'p4th-k3y-fedcba9876543210';

describe('RPC endpoints fail over, and their URLs stay secret', () => {
  let stack: Stack;
  let proxy: TcpProxy;
  const apps: FastifyInstance[] = [];
  before(async () => {
    stack = await startStack({ tracker: false });
    proxy = await startTcpProxy(stack.anvil.rpcUrl);
  });
  after(async () => {
    for (const app of apps) await app.close();
    await proxy?.stop();
    await stack?.stop();
  });

  async function gateway(
    urls: string[],
    logs: ReturnType<typeof captureLogs>,
  ): Promise<{ app: FastifyInstance; baseUrl: string }> {
    const app = await buildApp(
      { ...stack.config, chains: [{ chainId: stack.anvil.chainId, rpcUrl: urls[0]!, rpcUrls: urls }] },
      { logger: { level: 'info', stream: logs.stream }, tracker: true },
    );
    apps.push(app);
    return { app, baseUrl: await app.listen({ host: '127.0.0.1', port: 0 }) };
  }

  test('with the primary endpoint down, intents are still priced, signed, sent through the fallback and confirmed', async () => {
    const logs = captureLogs();
    const primary = `http://rpcuser:${PASSWORD}@127.0.0.1:${proxy.port}/?apikey=${API_KEY}`;
    const { app, baseUrl } = await gateway([primary, stack.anvil.rpcUrl], logs);
    const token = await stack.token();
    const transfer = { type: 'transfer', chainId: 31337, to: RECIPIENTS[0]!, asset: 'native', amount: '0.01' };

    const before = await postIntent(baseUrl, token, transfer);
    assert.equal(before.status, 201, JSON.stringify(before.body));
    assert.equal((await waitForStatus(baseUrl, token, before.body.id, ['confirmed', 'failed'])).status, 'confirmed');

    await proxy.stop(); // the primary is gone: every new connection is refused
    const during = await postIntent(baseUrl, token, transfer);
    assert.equal(during.status, 201, JSON.stringify(during.body));
    assert.equal(during.body.status, 'submitted');
    assert.equal((await waitForStatus(baseUrl, token, during.body.id, ['confirmed', 'failed'])).status, 'confirmed');
    const receipt = await stack.chain.getTransactionReceipt({ hash: during.body.txHash });
    assert.equal(receipt.status, 'success');

    const [health] = app.services.chains.health();
    assert.deepEqual(
      health!.rpc.map((e) => [e.endpoint, e.healthy]),
      [
        ['rpc #1', false],
        ['rpc #2', true],
      ],
    );
    assert.match(logs.text(), /"event":"chain.rpc_failover"/);
    for (const secret of [PASSWORD, API_KEY])
      assert.ok(!logs.text().includes(secret), 'no secret of the primary URL in the logs');
    assert.ok(!JSON.stringify(health).includes(PASSWORD));
  });

  test('with every RPC endpoint down, intents are refused with chain_unavailable, the signer is never called, and traffic resumes when the endpoint returns', async () => {
    const logs = captureLogs();
    let only = await startTcpProxy(stack.anvil.rpcUrl);
    const { baseUrl } = await gateway([`http://127.0.0.1:${only.port}`], logs);
    const token = await stack.token();
    const transfer = { type: 'transfer', chainId: 31337, to: RECIPIENTS[2]!, asset: 'native', amount: '0.01' };
    try {
      const first = await postIntent(baseUrl, token, transfer);
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal((await waitForStatus(baseUrl, token, first.body.id, ['confirmed', 'failed'])).status, 'confirmed');
      const journal = join(stack.dir, 'journal.log');
      const counts = async () =>
        (
          await stack.pool.query<{ intents: number; signed: number }>(
            'SELECT (SELECT count(*)::int FROM intents) AS intents, (SELECT count(*)::int FROM intent_transactions) AS signed',
          )
        ).rows[0]!;
      const before = { ...(await counts()), journal: readFileSync(journal, 'utf8') };

      await only.stop(); // the chain's only endpoint is gone
      for (let i = 0; i < 3; i++) {
        const refused = await postIntent(baseUrl, token, transfer);
        assert.equal(refused.status, 503, JSON.stringify(refused.body));
        assert.equal(refused.body.code, 'chain_unavailable');
      }
      assert.deepEqual(
        await counts(),
        { intents: before.intents, signed: before.signed },
        'nothing recorded or signed',
      );
      assert.equal(
        readFileSync(journal, 'utf8'),
        before.journal,
        'the signer was not called (its journal is unchanged)',
      );

      only = await startTcpProxy(stack.anvil.rpcUrl, only.port); // the endpoint is back
      let resumed: Awaited<ReturnType<typeof postIntent>> | undefined;
      for (let i = 0; i < 40 && resumed?.status !== 201; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 250));
        resumed = await postIntent(baseUrl, token, transfer);
      }
      assert.equal(resumed?.status, 201, JSON.stringify(resumed?.body));
      assert.equal(resumed.body.nonce, first.body.nonce + 1, 'the next nonce: nothing was consumed while it was down');
      const done = await waitForStatus(baseUrl, token, resumed.body.id, ['confirmed', 'failed']);
      assert.equal(done.status, 'confirmed');
    } finally {
      await only.stop();
    }
  });

  test('SECURITY: an RPC URL with a password and API keys never shows in error bodies, the health view or logs', async () => {
    const logs = captureLogs();
    // Nothing listens on port 1: every call fails, as with a dead or misconfigured provider.
    const dead = `http://rpcuser:${PASSWORD}@127.0.0.1:1/v2/${PATH_KEY}?apikey=${API_KEY}`;
    const { app, baseUrl } = await gateway([dead], logs);
    const token = await stack.token();
    const res = await fetch(`${baseUrl}/v1/intents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ type: 'transfer', chainId: 31337, to: RECIPIENTS[1]!, asset: 'native', amount: '0.01' }),
    });
    const text = await res.text();
    assert.equal(res.status, 503);
    assert.equal(JSON.parse(text).code, 'chain_unavailable');
    await app.services.chains.checkHealth();
    const health = JSON.stringify(app.services.chains.health());
    assert.match(health, /"healthy":false/);
    for (const secret of [PASSWORD, API_KEY, PATH_KEY, 'rpcuser:', '127.0.0.1:1/']) {
      assert.ok(!text.includes(secret), `error body holds ${secret}`);
      assert.ok(!health.includes(secret), `health view holds ${secret}`);
      assert.ok(!logs.text().includes(secret), `logs hold ${secret}`);
    }
    assert.match(logs.text(), /chain_unavailable|did not answer/);
  });
});

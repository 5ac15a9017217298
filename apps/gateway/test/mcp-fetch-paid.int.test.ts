// `fetch_paid`, the stdio bridge's own MCP tool (docs/mcp.md): the MCP SDK's client drives the real `clawd402-mcp`
// process, which fetches the URL itself and pays a 402 through the gateway with the SDK's paying fetch. The x402 side is
// the reference @x402/hono server and @x402/core + @x402/evm facilitator on anvil (support/x402-resource.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { callJson, startStack, type Stack } from './support/stack.ts';
import {
  X402_PAYEE,
  X402_PRICE,
  X402_STACK_ENV,
  X402_TOKEN,
  startX402Resource,
  x402Policy,
  type X402Resource,
} from './support/x402-resource.ts';

/** The bin an MCP client starts (docs/mcp.md's config). */
const BRIDGE = fileURLToPath(new URL('../../cli/bin/clawd402-mcp.mjs', import.meta.url));

interface ToolAnswer {
  isError?: boolean;
  structuredContent?: any;
  content: { type: string; text: string }[];
}

/** An address of this machine that is not loopback: plain http to it must be refused. */
function nonLoopbackAddress(): string {
  const found = Object.values(networkInterfaces())
    .flat()
    .find((a) => a?.family === 'IPv4' && !a.internal);
  assert.ok(found, 'this test needs a non-loopback IPv4 interface');
  return found.address;
}

describe('MCP fetch_paid through the stdio bridge', { timeout: 300_000 }, () => {
  let stack: Stack;
  let resource: X402Resource;
  let client: Client;
  let agentId: string;
  /** Listens on every interface and counts what reaches it: a refused URL must never arrive here. */
  let bystander: Server;
  let bystanderHits = 0;
  let bystanderPort: number;

  const call = async (args: Record<string, unknown>): Promise<ToolAnswer> =>
    (await client.callTool({ name: 'fetch_paid', arguments: args })) as ToolAnswer;
  const signedPayments = async () =>
    Number(
      (
        await stack.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM intents WHERE agent_id = $1 AND type = 'x402_payment' AND signature IS NOT NULL`,
          [agentId],
        )
      ).rows[0]!.n,
    );

  before(async () => {
    stack = await startStack({ policy: x402Policy(), env: { ...X402_STACK_ENV } });
    resource = await startX402Resource(stack, [{ path: '/data', description: 'one datum' }]);
    const agent = await stack.newAgent('mcp-fetch-paid');
    agentId = agent.agentId;
    // Room for one payment of 0.01 USD, not two.
    const set = await callJson(stack.baseUrl, await stack.loginAs('owner'), 'PUT', '/admin/costs/limits', {
      scope: `agent:${agentId}`,
      dailyLimitUsd: '0.015',
      hourlyLimitUsd: '0.015',
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    bystander = createServer((req, res) => {
      bystanderHits += 1;
      res.end('reached');
    });
    await new Promise<void>((resolve) => bystander.listen(0, '0.0.0.0', resolve));
    bystanderPort = (bystander.address() as AddressInfo).port;
    client = new Client({ name: 'fetch-paid-test-client', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BRIDGE, '--gateway', stack.baseUrl, '--chain', '31337'],
        cwd: '/',
        env: { PATH: process.env['PATH'] ?? '', CLAWD402_API_KEY: agent.apiKey },
        stderr: 'pipe',
      }),
    );
  });
  after(async () => {
    await client?.close();
    await new Promise((resolve) => bystander?.close(resolve));
    await resource?.stop();
    await stack?.stop();
  });

  test('a paid fetch answers the resource and the one payment made through the gateway', async () => {
    const before = await resource.balanceOf(X402_PAYEE);
    const answer = await call({ url: `${resource.url}/data` });
    assert.equal(answer.isError, undefined, answer.content[0]!.text);
    const out = answer.structuredContent;
    assert.equal(out.status, 200);
    assert.deepEqual(JSON.parse(out.body), { datum: 42, path: '/data' });
    assert.equal(out.bodyEncoding, 'utf8');
    assert.equal(out.truncated, false);
    assert.match(out.headers['content-type'], /^application\/json/);
    assert.equal(out.payment.amount, X402_PRICE);
    assert.equal(out.payment.payee, X402_PAYEE);
    assert.equal(out.payment.asset, X402_TOKEN);
    assert.equal(out.payment.settlement.success, true);
    assert.equal((await resource.balanceOf(X402_PAYEE)) - before, BigInt(X402_PRICE));
    // Paid through the gateway's pay_x402 tool on the bridge's MCP connection: origin mcp, named after the client.
    const intent = await stack.pool.query<{ id: string; origin: unknown }>(
      `SELECT id, origin FROM intents WHERE agent_id = $1 AND type = 'x402_payment'`,
      [agentId],
    );
    assert.deepEqual(intent.rows, [
      { id: out.payment.intentId, origin: { channel: 'mcp', tool: 'pay_x402', client: 'fetch-paid-test-client' } },
    ]);
    assert.equal(await signedPayments(), 1);
  });

  test('a fetch over budget is refused with the gateway code; nothing is paid, signed or served', async () => {
    const servedBefore = resource.served();
    const balanceBefore = await resource.balanceOf(X402_PAYEE);
    const answer = await call({ url: `${resource.url}/data` });
    assert.equal(answer.isError, true);
    assert.equal(answer.structuredContent.code, 'policy_denied');
    assert.ok(
      answer.structuredContent.reasons.some((r: { code: string }) => r.code === 'spend.limit_exceeded'),
      answer.content[0]!.text,
    );
    assert.equal(answer.structuredContent.payment, null);
    assert.equal(resource.served(), servedBefore);
    assert.equal(await resource.balanceOf(X402_PAYEE), balanceBefore);
    assert.equal(await signedPayments(), 1);
  });

  test('a price above maxAmount is refused before the gateway is asked: x402_amount_above_max, nothing recorded', async () => {
    const count = async () =>
      Number((await stack.pool.query('SELECT count(*) AS n FROM intents WHERE agent_id = $1', [agentId])).rows[0].n);
    const before = await count();
    const answer = await call({ url: `${resource.url}/data`, maxAmount: String(BigInt(X402_PRICE) - 1n) });
    assert.equal(answer.isError, true);
    assert.equal(answer.structuredContent.code, 'x402_amount_above_max');
    assert.equal(answer.structuredContent.payment, null);
    assert.equal(await count(), before);
  });

  test('plain http to a non-loopback host is refused before any request (fetch_url_refused), and so is a URL with credentials', async () => {
    const host = nonLoopbackAddress();
    // The bystander answers on that address: the URL is reachable, so only the bridge's rule keeps it unfetched.
    assert.equal(await (await fetch(`http://${host}:${bystanderPort}/`)).text(), 'reached');
    const hitsBefore = bystanderHits;
    for (const url of [
      `http://${host}:${bystanderPort}/data`,
      `http://user:pass@127.0.0.1:${bystanderPort}/data`,
      `ftp://${host}:${bystanderPort}/data`,
      'not a url',
    ]) {
      const answer = await call({ url });
      assert.equal(answer.isError, true, url);
      assert.equal(answer.structuredContent.code, 'fetch_url_refused', url);
      assert.doesNotMatch(answer.content[0]!.text, /secret/);
    }
    assert.equal(bystanderHits, hitsBefore);
  });

  test('a redirect is answered, not followed: a loopback URL cannot bounce the bridge to a non-loopback http host', async () => {
    const host = nonLoopbackAddress();
    const bouncer = createServer((req, res) => {
      res.writeHead(302, { location: `http://${host}:${bystanderPort}/internal` });
      res.end();
    });
    await new Promise<void>((resolve) => bouncer.listen(0, '127.0.0.1', resolve));
    try {
      const hitsBefore = bystanderHits;
      const answer = await call({ url: `http://127.0.0.1:${(bouncer.address() as AddressInfo).port}/go` });
      assert.equal(answer.isError, undefined, answer.content[0]!.text);
      assert.equal(answer.structuredContent.status, 302);
      assert.equal(answer.structuredContent.headers.location, `http://${host}:${bystanderPort}/internal`);
      assert.equal(answer.structuredContent.payment, null);
      assert.equal(bystanderHits, hitsBefore);
    } finally {
      await new Promise((resolve) => bouncer.close(resolve));
    }
  });

  test('arguments outside the schema are refused with invalid_request / unknown_field', async () => {
    const method = await call({ url: `${resource.url}/data`, method: 'CONNECT' });
    assert.deepEqual(
      [method.structuredContent.code, method.structuredContent.details.field],
      ['invalid_request', 'method'],
    );
    const extra = await call({ url: `${resource.url}/data`, payTo: X402_PAYEE });
    assert.deepEqual([extra.structuredContent.code, extra.structuredContent.details.field], ['unknown_field', 'payTo']);
  });
});

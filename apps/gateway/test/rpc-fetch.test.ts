// The RPC transports' HTTP client (chain/rpc-fetch.ts) under viem's own HTTP transport, against a real local HTTP
// server playing the RPC: answers, JSON-RPC errors, HTTP errors, oversized answers, redirects and timeouts each end
// the way viem's fetch-based transport ends them, so failover (rpc-pool.ts) sees the same error classes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicClient, http } from 'viem';
import { createRpcFetch } from '../src/chain/rpc-fetch.ts';

type Handler = (body: { id: number; method: string }[] | { id: number; method: string }, res: ServerResponse) => void;

describe('RPC transports over undici request', { timeout: 30_000 }, () => {
  let server: Server;
  let url: string;
  let handler: Handler = () => {};
  const seen: { headers: IncomingMessage['headers']; body: string }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        handler(JSON.parse(body), res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const json = (res: ServerResponse, status: number, value: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  const client = (options: { maxBytes?: number; timeout?: number; batch?: boolean; target?: string } = {}) =>
    createPublicClient({
      transport: http(options.target ?? url, {
        retryCount: 0,
        timeout: options.timeout ?? 5_000,
        fetchFn: createRpcFetch({ maxBytes: options.maxBytes }) as unknown as typeof fetch,
        maxResponseBodySize: false,
        ...(options.batch ? { batch: { batchSize: 100, wait: 0 } } : {}),
      }),
    });

  test('answers come back whole, batched calls each get their own, and the request says it is JSON', async () => {
    handler = (body, res) => {
      const calls = Array.isArray(body) ? body : [body];
      json(
        res,
        200,
        calls.map((c, i) => ({ jsonrpc: '2.0', id: c.id, result: `0x${(i + 7).toString(16)}` })),
      );
    };
    const batched = client({ batch: true });
    const [a, b] = await Promise.all([batched.getBlockNumber({ cacheTime: 0 }), batched.getChainId()]);
    assert.deepEqual([a, b], [7n, 8]);
    assert.equal(seen.at(-1)!.headers['content-type'], 'application/json');
    assert.equal(JSON.parse(seen.at(-1)!.body).length, 2, 'one HTTP request carried both calls');
  });

  test('a JSON-RPC error is the node refusing the call (RpcRequestError), not the endpoint failing', async () => {
    handler = (body, res) =>
      json(res, 200, { jsonrpc: '2.0', id: (body as { id: number }).id, error: { code: -32000, message: 'nope' } });
    await assert.rejects(client().getBlockNumber({ cacheTime: 0 }), (error: Error) => {
      assert.match(error.message, /nope/);
      assert.equal(findCause(error, 'RpcRequestError')?.name, 'RpcRequestError');
      return true;
    });
  });

  test('an HTTP error status, a redirect, and an answer over the size bound are HttpRequestErrors', async () => {
    handler = (_body, res) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway');
    };
    await assert.rejects(client().getBlockNumber({ cacheTime: 0 }), (error: Error) => {
      assert.equal(findCause(error, 'HttpRequestError')?.name, 'HttpRequestError');
      assert.equal((findCause(error, 'HttpRequestError') as { status?: number }).status, 502);
      return true;
    });

    handler = (_body, res) => {
      res.writeHead(307, { location: 'http://127.0.0.1:1/' });
      res.end();
    };
    await assert.rejects(client().getBlockNumber({ cacheTime: 0 }), (error: Error) => {
      assert.equal((findCause(error, 'HttpRequestError') as { status?: number }).status, 307, 'not followed');
      return true;
    });

    handler = (body, res) =>
      json(res, 200, { jsonrpc: '2.0', id: (body as { id: number }).id, result: `0x${'ab'.repeat(4_096)}` });
    await assert.rejects(client({ maxBytes: 1_024 }).getBlockNumber({ cacheTime: 0 }), (error: Error) => {
      assert.equal(findCause(error, 'HttpRequestError')?.name, 'HttpRequestError');
      assert.match(String(causeChain(error)), /larger than 1024 bytes/);
      return true;
    });
  });

  test('an endpoint that does not answer in time is a TimeoutError, and one that refuses connections fails', async () => {
    handler = () => {}; // never answers
    await assert.rejects(client({ timeout: 200 }).getBlockNumber({ cacheTime: 0 }), (error: Error) => {
      assert.equal(findCause(error, 'TimeoutError')?.name, 'TimeoutError');
      return true;
    });
    await assert.rejects(client({ target: 'http://127.0.0.1:1' }).getBlockNumber({ cacheTime: 0 }), (error: Error) => {
      assert.equal(findCause(error, 'HttpRequestError')?.name, 'HttpRequestError');
      return true;
    });
  });
});

function findCause(error: unknown, name: string): Error | undefined {
  let e = error as (Error & { cause?: unknown }) | undefined;
  for (let depth = 0; e && depth < 8; depth += 1) {
    if (e.name === name) return e;
    e = e.cause as typeof e;
  }
  return undefined;
}

function causeChain(error: unknown): string {
  const parts: string[] = [];
  let e = error as (Error & { cause?: unknown }) | undefined;
  for (let depth = 0; e && depth < 8; depth += 1) {
    parts.push(e.message);
    e = e.cause as typeof e;
  }
  return parts.join(' <- ');
}

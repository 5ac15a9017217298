import { STATUS_CODES } from 'node:http';
import { Agent, request } from 'undici';

/** The most an RPC answer may hold, as viem's own default: a larger one fails the request (HttpRequestError). */
export const MAX_RPC_RESPONSE_BYTES = 10 * 1024 * 1024;

/** What viem's HTTP transport reads of a response when it is given `maxResponseBodySize: false`. */
interface RpcResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  readonly body: null;
  text(): Promise<string>;
}

interface RpcFetchInit {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal | null;
}

/**
 * The `fetchFn` of the gateway's RPC transports: one POST over undici's `request` instead of the global `fetch`.
 * viem's transport keeps doing everything else (batching, timeouts, JSON-RPC errors, retries); this only sends the
 * body it built and hands back status, headers and text. `fetch` builds WHATWG Request, Headers and stream objects
 * for every call: measured against anvil here, 350–570 µs of CPU per request against 55–115 µs for `request`
 * (docs/benchmarks.md). Redirects are not followed (an RPC endpoint that redirects answers with its 3xx status, which
 * viem reports as an HttpRequestError); the answer is read to at most `maxBytes`, then the request fails.
 */
export function createRpcFetch(
  options: { maxBytes?: number } = {},
): (url: string, init: RpcFetchInit) => Promise<RpcResponse> {
  const maxBytes = options.maxBytes ?? MAX_RPC_RESPONSE_BYTES;
  // Its own connection pool per transport, kept alive between requests as fetch's global one is.
  const dispatcher = new Agent({ keepAliveTimeout: 10_000 });
  return async (url, init) => {
    const answer = await request(url, {
      dispatcher,
      method: (init.method ?? 'POST') as 'POST',
      headers: init.headers,
      body: init.body,
      signal: init.signal ?? undefined,
    });
    const header = (name: string): string | null => {
      const value = answer.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    };
    return {
      ok: answer.statusCode >= 200 && answer.statusCode < 300,
      status: answer.statusCode,
      statusText: STATUS_CODES[answer.statusCode] ?? '',
      headers: { get: header },
      body: null,
      text: () => readText(answer.body, maxBytes),
    };
  };
}

async function readText(body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown }, maxBytes: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      const error = new Error(`The RPC answer is larger than ${maxBytes} bytes.`);
      body.destroy(error);
      throw error;
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
}

/**
 * Raw HTTP/1.1 over node:net for the hostile-HTTP tests: bytes exactly as written (fetch would fix or refuse them),
 * sent at once or slowly, and every response the server writes back, in order.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body as JSON, or null when it is not JSON. */
  json: any;
}

export interface RawExchange {
  /** Everything the server wrote. */
  raw: string;
  /** Every response in `raw`, in order (a smuggled request would show up as a second one). */
  responses: RawResponse[];
  /** Whether the server closed the connection (false: it was still open when we gave up waiting). */
  closedByServer: boolean;
}

/** One step of a slow send: text to write, or a pause. */
export type RawStep = string | Buffer | { pauseMs: number };

function parseResponses(raw: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = raw;
  while (rest.startsWith('HTTP/1.')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const bodyBytes = Buffer.from(rest.slice(end + 4), 'utf8').subarray(0, length);
    const body = bodyBytes.toString('utf8');
    let json: any;
    try {
      json = JSON.parse(body);
    } catch {
      json = null;
    }
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body, json });
    rest = Buffer.from(rest.slice(end + 4), 'utf8')
      .subarray(length)
      .toString('utf8');
  }
  return out;
}

/**
 * Open a connection to `baseUrl`, write `steps` (pauses included), and collect what comes back until the server
 * closes the connection or `waitMs` passes after the last step.
 */
export function rawExchange(
  baseUrl: string,
  steps: RawStep | RawStep[],
  options: { waitMs?: number } = {},
): Promise<RawExchange> {
  const url = new URL(baseUrl);
  const list = Array.isArray(steps) ? steps : [steps];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('utf8');
      resolve({ raw, responses: parseResponses(raw), closedByServer });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => finish(true));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset after the server answered and closed is a close; before connecting it is a failure.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') finish(true);
      else if (!settled) reject(error);
    });
    socket.once('connect', async () => {
      for (const step of list) {
        if (settled) return;
        if (typeof step === 'object' && !Buffer.isBuffer(step)) await new Promise((r) => setTimeout(r, step.pauseMs));
        else if (!socket.destroyed) socket.write(step);
      }
      timer = setTimeout(() => finish(false), options.waitMs ?? 2_000);
    });
  });
}

/** The request line and headers of a request, CRLF-terminated, without the blank line. */
export function head(
  method: string,
  path: string,
  headers: Record<string, string | number> | [string, string | number][],
): string {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${pairs.map(([k, v]) => `${k}: ${v}\r\n`).join('')}`;
}

/**
 * The gateway still serves after an attack: a fresh connection gets 200 from /health and, with the agent's token,
 * 200 from GET /v1/intents (authentication, Postgres and the route all work).
 */
export async function assertStillServing(baseUrl: string, token: string): Promise<void> {
  const health = await fetch(`${baseUrl}/health`);
  assert.equal(health.status, 200, 'GET /health after the attack');
  await health.arrayBuffer();
  const list = await fetch(`${baseUrl}/v1/intents`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(list.status, 200, 'GET /v1/intents after the attack');
  await list.arrayBuffer();
}

/** The first response has this status and catalogue code. */
export function assertAnswered(exchange: RawExchange, status: number, code: string): void {
  assert.equal(exchange.responses[0]?.status, status, exchange.raw.slice(0, 400));
  assert.equal(exchange.responses[0]?.json?.code, code, exchange.raw.slice(0, 400));
}

/** Exactly one response, with this status and catalogue code, and the connection closed by the server. */
export function assertRefusedAndClosed(exchange: RawExchange, status: number, code: string): void {
  assert.equal(
    exchange.responses.length,
    1,
    `one response, no smuggled second one: ${JSON.stringify(exchange.raw.slice(0, 600))}`,
  );
  assertAnswered(exchange, status, code);
  assert.ok(exchange.closedByServer, 'the server closed the connection');
}

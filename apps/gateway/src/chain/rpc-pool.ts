import { createPublicClient, fallback, http, type PublicClient, type Transport } from 'viem';
import { logEvent, type EventLogger as Logger } from '@clawd402/protocol';
import { createRpcFetch } from './rpc-fetch.ts';

/** The health of one endpoint, by label (`rpc #1`, `relay #2`): never its URL. */
export interface EndpointHealth {
  endpoint: string;
  healthy: boolean;
  /** Why it was last marked unhealthy (scrubbed of URLs), or null. */
  lastError: string | null;
  checkedAt: string | null;
}

export interface RpcPoolOptions {
  chainId: number;
  /** `rpc`: the public endpoints (reads and public sends); `relay`: a private relay (sends only). */
  role: 'rpc' | 'relay';
  /** Primary first. May carry credentials (`user:pass@`, API keys in path or query): they never leave this module. */
  urls: readonly string[];
  /** Per request, per endpoint. */
  timeoutMs?: number;
  /** JSON-RPC batching of calls made in the same tick (public endpoints; relays usually refuse batches). */
  batch?: boolean;
  log?: Logger;
  /** Told of every request to an endpoint when it settles (the gateway's metrics): its label and round trip. */
  observe?: RpcObserver;
}

/** `endpoint` names it by role and position (`rpc-1`, `relay-2`), never by URL; `ok` false when the request threw. */
export type RpcObserver = (chainId: number, endpoint: string, seconds: number, ok: boolean) => void;

interface Endpoint {
  label: string;
  transport: Transport;
  healthy: boolean;
  lastError: string | null;
  checkedAt: Date | null;
}

/** Errors that say the endpoint itself failed (network, timeout, HTTP status), not that the node refused the call. */
const ENDPOINT_FAILURES = new Set(['HttpRequestError', 'TimeoutError', 'SocketClosedError', 'WebSocketRequestError']);

/**
 * The RPC endpoints of one chain (or its private relay), as one viem client over viem's `fallback` transport: every
 * call — reads and sends alike — goes to the first endpoint and fails over to the next when it does not answer.
 * Health: every endpoint is probed with `eth_chainId` on a timer (an endpoint answering another chain id counts as
 * down), and an endpoint whose request fails is marked down at once; healthy endpoints are tried first, in configured
 * order, so a dead primary costs one failed request, not one per call. Endpoints are named `rpc #n` / `relay #n` in
 * logs and errors; their URLs (which may hold credentials or API keys) are scrubbed from every error that leaves.
 */
export class RpcPool {
  readonly chainId: number;
  readonly role: 'rpc' | 'relay';
  private readonly endpoints: Endpoint[];
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;
  private current: PublicClient;
  private order = '';
  private checking: Promise<void> | null = null;

  constructor(options: RpcPoolOptions) {
    if (options.urls.length === 0) throw new Error(`chain ${options.chainId}: no ${options.role} endpoint`);
    this.chainId = options.chainId;
    this.role = options.role;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.log = options.log;
    const secrets = options.urls.flatMap(secretsOf);
    this.endpoints = options.urls.map((url, i) => ({
      label: `${options.role} #${i + 1}`,
      transport: scrubbing(
        http(url, {
          key: `endpoint-${i}`,
          name: `${options.role} #${i + 1}`,
          retryCount: 0,
          timeout: this.timeoutMs,
          // undici's `request` rather than `fetch` (rpc-fetch.ts), which reads and bounds the answer itself.
          fetchFn: createRpcFetch() as unknown as typeof fetch,
          maxResponseBodySize: false,
          ...(options.batch ? { batch: { batchSize: 100, wait: 0 } } : {}),
        }),
        secrets,
        options.observe &&
          ((seconds, ok) => options.observe!(options.chainId, `${options.role}-${i + 1}`, seconds, ok)),
      ),
      healthy: true,
      lastError: null,
      checkedAt: null,
    }));
    this.current = this.build();
  }

  /** The client to use now (rebuilt when the endpoints' order changes; hold it only for one operation). */
  get client(): PublicClient {
    return this.current;
  }

  health(): EndpointHealth[] {
    return this.endpoints.map((e) => ({
      endpoint: e.label,
      healthy: e.healthy,
      lastError: e.lastError,
      checkedAt: e.checkedAt?.toISOString() ?? null,
    }));
  }

  /** Probe every endpoint once (eth_chainId, retried never); concurrent callers share one probe. */
  check(): Promise<void> {
    this.checking ??= this.probeAll().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async probeAll(): Promise<void> {
    await Promise.all(
      this.endpoints.map(async (endpoint) => {
        let error: string | null = null;
        try {
          const answer = await endpoint
            .transport({ retryCount: 0, timeout: Math.min(this.timeoutMs, 5_000) })
            .request({ method: 'eth_chainId' });
          if (typeof answer !== 'string' || Number.parseInt(answer, 16) !== this.chainId)
            error = `answers chain id ${String(answer).slice(0, 20)}, not ${this.chainId}`;
        } catch (cause) {
          error = shortReason(cause);
        }
        this.mark(endpoint, error);
        endpoint.checkedAt = new Date();
      }),
    );
    this.reorder();
  }

  private mark(endpoint: Endpoint, error: string | null): void {
    const wasHealthy = endpoint.healthy;
    endpoint.healthy = error === null;
    if (error !== null) endpoint.lastError = error;
    if (wasHealthy && !endpoint.healthy) {
      if (this.log)
        logEvent(this.log, 'chain.rpc_failover', { chainId: this.chainId, endpoint: endpoint.label, reason: error });
    } else if (!wasHealthy && endpoint.healthy) {
      if (this.log) logEvent(this.log, 'chain.rpc_recovered', { chainId: this.chainId, endpoint: endpoint.label });
    }
  }

  /** Healthy endpoints first, in configured order; rebuild the client when that order changes. */
  private reorder(): void {
    const order = this.ordered()
      .map((e) => e.label)
      .join(',');
    if (order !== this.order) this.current = this.build();
  }

  private ordered(): Endpoint[] {
    return [...this.endpoints.filter((e) => e.healthy), ...this.endpoints.filter((e) => !e.healthy)];
  }

  private build(): PublicClient {
    const ordered = this.ordered();
    this.order = ordered.map((e) => e.label).join(',');
    const client = createPublicClient({
      transport: fallback(
        ordered.map((e) => e.transport),
        { rank: false, retryCount: 1 },
      ),
    }) as PublicClient;
    const byKey = new Map(ordered.map((e, i) => [`endpoint-${this.endpoints.indexOf(e)}`, { e, i }]));
    (
      client.transport as unknown as {
        onResponse(fn: (r: { status: string; error?: unknown; transport: { config: { key: string } } }) => void): void;
      }
    ).onResponse((response) => {
      if (response.status !== 'error' || !isEndpointFailure(response.error)) return;
      const hit = byKey.get(response.transport.config.key);
      if (!hit?.e.healthy) return;
      this.mark(hit.e, shortReason(response.error));
      this.reorder();
    });
    return client;
  }
}

function isEndpointFailure(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e; depth += 1) {
    if (ENDPOINT_FAILURES.has((e as Error).name)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** A one-line reason for logs and the health view: the error's short message (already scrubbed of URLs). */
function shortReason(error: unknown): string {
  const e = error as { shortMessage?: string; message?: string; name?: string };
  return String(e?.shortMessage ?? e?.message ?? e?.name ?? 'error')
    .split('\n')[0]!
    .slice(0, 200);
}

/** The strings of a URL that must never be shown: the URL itself, its credentials, path and query. */
export function secretsOf(url: string): string[] {
  const out = new Set<string>([url]);
  try {
    const parsed = new URL(url);
    for (const part of [
      parsed.username,
      parsed.password,
      decodeURIComponent(parsed.username),
      decodeURIComponent(parsed.password),
    ]) {
      if (part.length >= 3) out.add(part);
    }
    if (parsed.pathname.length > 1) out.add(parsed.pathname);
    if (parsed.search.length > 1) out.add(parsed.search.slice(1));
    for (const value of parsed.searchParams.values()) if (value.length >= 6) out.add(value);
    for (const segment of parsed.pathname.split('/')) if (segment.length >= 12) out.add(segment);
    parsed.username = '';
    parsed.password = '';
    out.add(parsed.toString());
  } catch {
    // not a URL: the string itself is all there is
  }
  return [...out].sort((a, b) => b.length - a.length);
}

const ANY_URL = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>)\]]+/gi;

/** Replace every secret and every URL in `text`. */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out.replace(ANY_URL, '[url]');
}

const TEXT_FIELDS = ['message', 'shortMessage', 'details', 'stack', 'url', 'docsPath'] as const;

/**
 * Scrub an error and its causes in place (their classes and codes stay, so viem's failover logic and the callers'
 * checks still work) and return it. viem puts the request URL in messages (`URL: …`) and in `url`.
 */
export function scrubError<T>(error: T, secrets: readonly string[]): T {
  const seen = new Set<unknown>();
  let e: unknown = error;
  for (let depth = 0; depth < 8 && e !== null && typeof e === 'object' && !seen.has(e); depth += 1) {
    seen.add(e);
    const record = e as Record<string, unknown>;
    for (const field of TEXT_FIELDS) {
      if (typeof record[field] === 'string') {
        try {
          Object.defineProperty(e, field, {
            value: scrubText(record[field], secrets),
            writable: true,
            configurable: true,
            enumerable: field !== 'stack' && field !== 'message',
          });
        } catch {
          // a frozen error: leave it (none of viem's are)
        }
      }
    }
    if (Array.isArray(record.metaMessages)) {
      record.metaMessages = (record.metaMessages as unknown[]).map((m) =>
        typeof m === 'string' ? scrubText(m, secrets) : m,
      );
    }
    e = record.cause;
  }
  return error;
}

/** Wrap a transport so that every error it throws is scrubbed before anything (viem's fallback included) sees it. */
function scrubbing(
  transport: Transport,
  secrets: readonly string[],
  observe?: (seconds: number, ok: boolean) => void,
): Transport {
  return (params: Parameters<Transport>[0]) => {
    const inner = transport(params);
    const request = (async (args: unknown, options?: unknown) => {
      const started = performance.now();
      try {
        const result = await (inner.request as (a: unknown, o?: unknown) => Promise<unknown>)(args, options);
        observe?.((performance.now() - started) / 1000, true);
        return result;
      } catch (error) {
        observe?.((performance.now() - started) / 1000, false);
        throw scrubError(error, secrets);
      }
    }) as typeof inner.request;
    return { ...inner, request, value: {} };
  };
}

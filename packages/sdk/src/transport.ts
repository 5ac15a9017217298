import type { ErrorBody } from '@clawd402/protocol';
import { Clawd402ClientError } from './errors.ts';

export interface TransportOptions {
  apiUrl: string;
  apiKey?: string;
  getToken?: () => string | Promise<string>;
  /** Per attempt. */
  timeoutMs: number;
  /** Further attempts after the first, for requests that are safe to repeat. */
  retries: number;
  /** The longest Retry-After the client waits out; a longer one is thrown as the error it came with. */
  maxRetryAfterMs: number;
  fetch: typeof fetch;
  /** Waits between attempts (tests pass a recorder). */
  sleep: (ms: number) => Promise<void>;
}

export interface RequestOptions {
  body?: unknown;
  /** Makes a write safe to repeat: the gateway answers a repeat with the intent the first attempt made. */
  idempotencyKey?: string;
  /** Overrides the per-attempt timeout (a long-poll waits longer). */
  timeoutMs?: number;
  /** Send the bearer token (default true). */
  auth?: boolean;
  /** The request changes nothing when repeated even without an Idempotency-Key (token exchange). */
  repeatable?: boolean;
}

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** 5xx answers worth another attempt: the gateway or a proxy in front of it was briefly unable to answer. */
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/**
 * HTTP to the gateway: the bearer token (exchanged from the API key at `POST /auth/token` and renewed before it
 * expires, or fetched from `getToken`), timeouts, and retries of what is safe to repeat — reads, writes that carry an
 * `Idempotency-Key` (the same key on every attempt, so a retried intent is never made twice), and 429s — on network
 * failures, timeouts, 5xx and 429, waiting at least what `Retry-After` asks.
 */
export class Transport {
  private token: { value: string; renewAt: number } | null = null;
  private exchanging: Promise<string> | null = null;
  /**
   * A 429's Retry-After holds the whole client, not the one request it answered: the gateway limits the agent, so
   * every request of this client waits until then (docs/rate-limits.md: a client that waits as told is never blocked).
   */
  private notBefore = 0;
  /** Requests refused with 429 retry one at a time, each after the hold, until they are through. */
  private turns: Promise<void> = Promise.resolve();

  constructor(private readonly options: TransportOptions) {
    if (!options.apiKey && !options.getToken) {
      throw new Clawd402ClientError('invalid_option', { message: 'Give the client an apiKey or a getToken function.' });
    }
  }

  async request<T>(method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<Answer<T>> {
    const safe = method === 'GET' || options.idempotencyKey !== undefined || options.repeatable === true;
    let reauthenticated = false;
    let limited = false; // refused with 429: later attempts take turns after the hold
    for (let attempt = 0; ; attempt += 1) {
      const last = attempt >= this.options.retries;
      const release = limited ? await this.takeTurn() : await this.held();
      let answer: Answer<unknown>;
      try {
        answer = await this.once(method, path, options);
      } catch (error) {
        release();
        if (error instanceof Clawd402ClientError && error.code === 'invalid_response') throw error;
        const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
        if (!safe || last) {
          throw new Clawd402ClientError(timedOut ? 'timeout' : 'network_error', {
            cause: error,
            details: { attempts: attempt + 1, path },
          });
        }
        await this.options.sleep(backoff(attempt));
        continue;
      }
      release();
      const { status, body, headers } = answer;
      if (status < 400) return answer as Answer<T>;
      const error = errorOf(status, body, headers);
      // A token the gateway no longer accepts (expired early, key rotated): exchange it once more, then give up.
      if (status === 401 && error.code === 'unauthenticated' && options.auth !== false && !reauthenticated) {
        reauthenticated = true;
        this.token = null;
        attempt -= 1;
        continue;
      }
      // An answer that carries an intent is the outcome of a recorded intent: repeating it would only replay it.
      const repeat = RETRYABLE_STATUS.has(status) && (safe || status === 429) && error.intent === undefined;
      if (!repeat || last) throw error;
      const wait = Math.max(backoff(attempt), error.retryAfterMs ?? 0);
      if ((error.retryAfterMs ?? 0) > this.options.maxRetryAfterMs) throw error;
      if (status === 429) {
        this.notBefore = Math.max(this.notBefore, Date.now() + wait);
        limited = true;
        continue;
      }
      await this.options.sleep(wait);
    }
  }

  /** Wait out the client's hold, if any; answers a no-op release (a first attempt takes no turn). */
  private async held(): Promise<() => void> {
    const hold = this.notBefore - Date.now();
    if (hold > 0) await this.options.sleep(hold);
    return () => {};
  }

  /** Wait for this request's turn among the limited ones, then out the hold; answers the release of the turn. */
  private async takeTurn(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const previous = this.turns;
    this.turns = previous.then(() => mine);
    await previous;
    await this.held();
    return release;
  }

  private async once(method: string, path: string, options: RequestOptions): Promise<Answer<unknown>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.auth !== false) headers.authorization = `Bearer ${await this.bearer()}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    const res = await this.options.fetch(new URL(path, this.options.apiUrl), {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? this.options.timeoutMs),
      redirect: 'error',
    });
    const text = await res.text();
    let body: unknown = null;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch (cause) {
        if (res.status < 400) throw new Clawd402ClientError('invalid_response', { status: res.status, cause });
        body = null;
      }
    }
    return { status: res.status, body, headers: res.headers };
  }

  /** The bearer token: the caller's, or ours, exchanged once and renewed a minute (or a fifth of its life) early. */
  bearerToken(): Promise<string> {
    return this.bearer();
  }

  private async bearer(): Promise<string> {
    if (this.options.getToken) return this.options.getToken();
    if (this.token && Date.now() < this.token.renewAt) return this.token.value;
    this.exchanging ??= this.exchange().finally(() => {
      this.exchanging = null;
    });
    return this.exchanging;
  }

  private async exchange(): Promise<string> {
    const issuedAt = Date.now();
    const { body } = await this.request<{ access_token: string; expires_in: number }>('POST', '/auth/token', {
      body: { apiKey: this.options.apiKey },
      auth: false,
      repeatable: true,
    });
    if (typeof body?.access_token !== 'string' || typeof body.expires_in !== 'number') {
      throw new Clawd402ClientError('invalid_response', { message: 'POST /auth/token answered without a token.' });
    }
    const lifeMs = body.expires_in * 1000;
    this.token = { value: body.access_token, renewAt: issuedAt + lifeMs - Math.min(60_000, lifeMs / 5) };
    return body.access_token;
  }
}

/** Exponential back-off from 250 ms, at most 8 s, with up to 20 % jitter so many clients do not retry in step. */
export function backoff(attempt: number): number {
  const base = Math.min(8_000, 250 * 2 ** attempt);
  return Math.round(base * (1 + Math.random() * 0.2));
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unusable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The gateway's error body as the SDK's error; anything else as `http_error`. */
function errorOf(status: number, body: unknown, headers: Headers): Clawd402ClientError {
  const retryAfter = retryAfterMs(headers.get('retry-after'));
  const known = body !== null && typeof body === 'object' && typeof (body as ErrorBody).code === 'string';
  if (!known) {
    return new Clawd402ClientError('http_error', {
      status,
      message: `The gateway answered HTTP ${status}.`,
      ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
    });
  }
  const e = body as ErrorBody;
  return new Clawd402ClientError(e.code, {
    status,
    message: e.message,
    ...(e.details ? { details: e.details } : {}),
    ...(e.intent ? { intent: e.intent } : {}),
    ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
  });
}

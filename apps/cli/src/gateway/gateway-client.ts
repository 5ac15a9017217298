import { CliError } from '../cli-error.ts';
import type { OptionSpec, Options } from '../command.ts';
import { SessionStore, type StoredSession } from './session-store.ts';

/** `--gateway URL` (or CLAWD402_URL): every command that talks to a gateway takes it. */
export const GATEWAY_OPTION: Record<string, OptionSpec> = {
  gateway: {
    type: 'string',
    value: 'URL',
    env: 'CLAWD402_URL',
    description: "the gateway's base URL (default: the only gateway you are logged in to)",
  },
};

const REQUEST_TIMEOUT_MS = 30_000;
/** Refresh an access token this long before it expires rather than have a request bounce. */
const REFRESH_MARGIN_MS = 15_000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

/**
 * The gateway's origin from a URL: http(s) only, no credentials, no query; plain http only to this host (a bearer
 * token never crosses a network in clear).
 */
export function gatewayOrigin(text: string): string {
  if (!URL.canParse(text)) throw new CliError('usage', '--gateway (CLAWD402_URL) is not a URL');
  const url = new URL(text);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new CliError('usage', '--gateway (CLAWD402_URL) must be an https:// URL');
  if (url.username || url.password) throw new CliError('usage', '--gateway (CLAWD402_URL) must not carry credentials');
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname))
    throw new CliError('usage', 'plain http is only allowed to localhost; use the https:// URL of the gateway');
  return url.origin;
}

/** The CLI's error for a gateway answer that is not a success. */
export function gatewayError(status: number, body: unknown): CliError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as {
    code?: unknown;
    message?: unknown;
    details?: unknown;
  };
  const code = typeof b.code === 'string' ? b.code : `http_${status}`;
  const message = typeof b.message === 'string' ? b.message.slice(0, 500) : `HTTP ${status}`;
  const detail = { status, gatewayCode: code, ...(b.details ? { details: b.details } : {}) };
  if (status === 404) return new CliError('gateway_not_found', `${code}: ${message}`, { detail });
  if (status === 401 && code === 'unauthenticated') return new CliError('session_expired', undefined, { detail });
  if (status >= 500) return new CliError('gateway_unavailable', `${code}: ${message}`, { detail });
  return new CliError('gateway_refused', `${code}: ${message}`, { detail });
}

/** A body sent as it is (a policy file), with its media type; anything else is sent as JSON. */
export class RawBody {
  constructor(
    readonly text: string,
    readonly contentType: string,
  ) {}
}

export interface Answer {
  status: number;
  body: unknown;
}

/** Send one request; network failures and timeouts are `gateway_unavailable`. Never logs the URL or a header. */
async function send(origin: string, method: string, path: string, body: unknown, headers: Record<string, string>) {
  let res: Response;
  try {
    const raw = body instanceof RawBody;
    res = await fetch(`${origin}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        'user-agent': 'clawd402-cli',
        ...(body !== undefined ? { 'content-type': raw ? body.contentType : 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: raw ? body.text : JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      redirect: 'error',
    });
  } catch (error) {
    const reason = (error as Error)?.name === 'TimeoutError' ? 'did not answer in time' : 'cannot be reached';
    throw new CliError('gateway_unavailable', `the gateway ${reason}`);
  }
  const answered = await res.text().catch(() => '');
  let parsed: unknown = null;
  if (answered) {
    try {
      parsed = JSON.parse(answered);
    } catch {
      throw new CliError('gateway_unavailable', `the gateway answered ${res.status} with a body that is not JSON`);
    }
  }
  return { status: res.status, body: parsed };
}

const sessionOf = (username: string, pair: TokenPair): StoredSession => ({
  username,
  accessToken: pair.access_token,
  refreshToken: pair.refresh_token,
  accessExpiresAt: new Date(Date.now() + pair.expires_in * 1000).toISOString(),
});

/** A logged-in operator's view of one gateway: requests with the stored session, refreshed as needed. */
export class GatewayClient {
  readonly origin: string;
  private readonly store: SessionStore;

  private constructor(origin: string, store: SessionStore) {
    this.origin = origin;
    this.store = store;
  }

  /** The gateway named by --gateway / CLAWD402_URL, else the only one there is a session for. */
  static async open(options: Options, env: NodeJS.ProcessEnv): Promise<GatewayClient> {
    const store = new SessionStore(env);
    if (typeof options.gateway === 'string' && options.gateway)
      return new GatewayClient(gatewayOrigin(options.gateway), store);
    const origins = await store.origins();
    if (origins.length === 1) return new GatewayClient(origins[0]!, store);
    throw new CliError(
      origins.length ? 'config_missing' : 'not_logged_in',
      origins.length
        ? `logged in to ${origins.length} gateways: name one with --gateway (or CLAWD402_URL)`
        : 'not logged in (run clawd402 login --gateway URL)',
    );
  }

  /** Where the session is kept. */
  get sessionPath(): string {
    return this.store.path;
  }

  /** Without a session: login. Answers the raw status and body. */
  async post(path: string, body: unknown): Promise<Answer> {
    return send(this.origin, 'POST', path, body, {});
  }

  async saveLogin(username: string, pair: TokenPair): Promise<void> {
    await this.store.put(this.origin, sessionOf(username, pair));
  }

  async session(): Promise<StoredSession> {
    const session = await this.store.get(this.origin);
    if (!session) throw new CliError('not_logged_in', `not logged in to ${this.origin} (run clawd402 login)`);
    return session;
  }

  /** Forget the session locally (after logout, or when it is gone on the gateway). */
  async forget(): Promise<boolean> {
    return this.store.remove(this.origin);
  }

  /** Rotate the refresh token; its family ends on the gateway if it was already used (a leak). */
  private async refresh(session: StoredSession): Promise<StoredSession> {
    const answer = await send(this.origin, 'POST', '/auth/refresh', { refresh_token: session.refreshToken }, {});
    if (answer.status === 200) {
      const next = sessionOf(session.username, answer.body as TokenPair);
      await this.store.put(this.origin, next);
      return next;
    }
    if (answer.status === 401)
      throw new CliError('session_expired', undefined, {
        detail: { status: 401, gatewayCode: (answer.body as { code?: string } | null)?.code ?? 'http_401' },
      });
    throw gatewayError(answer.status, answer.body);
  }

  /**
   * An authenticated request: refreshes an access token about to expire, and once more on `unauthenticated`. Answers
   * the body of a 2xx; anything else is the matching CliError.
   */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let session = await this.session();
    if (Date.parse(session.accessExpiresAt) - Date.now() < REFRESH_MARGIN_MS) session = await this.refresh(session);
    let answer = await send(this.origin, method, path, body, { authorization: `Bearer ${session.accessToken}` });
    if (answer.status === 401 && (answer.body as { code?: string } | null)?.code === 'unauthenticated') {
      session = await this.refresh(session);
      answer = await send(this.origin, method, path, body, { authorization: `Bearer ${session.accessToken}` });
    }
    if (answer.status >= 200 && answer.status < 300) return answer.body as T;
    throw gatewayError(answer.status, answer.body);
  }
}

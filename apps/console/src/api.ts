/**
 * The console's one way to the gateway: same-origin fetch with the session cookies (httpOnly, set by /auth/login) and,
 * on every write, the CSRF token the login answered. The token is kept in localStorage so that a link opened in a new
 * tab (a notification's approval link) works without a second login; it is useless to another site, which cannot read
 * this origin's storage, and worthless without the httpOnly cookies.
 */
const CSRF_KEY = 'c402.csrf';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Raised when there is no session (or it ended): the console shows the login page. */
export class LoginRequired extends ApiError {}

let onLoginRequired: () => void = () => {};
export function whenLoginRequired(fn: () => void): void {
  onLoginRequired = fn;
}

function csrf(): string | null {
  return localStorage.getItem(CSRF_KEY);
}

/** A body that is sent as it is, with its own media type (a policy upload is YAML text, not JSON). */
export class RawBody {
  constructor(
    readonly text: string,
    readonly type: string,
  ) {}
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = csrf();
  if (method !== 'GET' && token) headers['x-csrf-token'] = token;
  if (body !== undefined) headers['content-type'] = body instanceof RawBody ? body.type : 'application/json';
  return fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: body instanceof RawBody ? body.text : JSON.stringify(body) } : {}),
  });
}

async function parse(res: Response): Promise<unknown> {
  if (res.status === 204) return null;
  const text = await res.text();
  try {
    return text ? (JSON.parse(text) as unknown) : null;
  } catch {
    return { code: 'invalid_response', message: text.slice(0, 200) };
  }
}

let refreshing: Promise<boolean> | null = null;
/** One refresh at a time: the refresh cookie rotates on use, so two concurrent refreshes would look like reuse. */
async function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const res = await send('POST', '/auth/refresh');
      if (res.status !== 200) return false;
      const body = (await res.json()) as { csrf_token?: string };
      if (body.csrf_token) localStorage.setItem(CSRF_KEY, body.csrf_token);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** Call the API; answers the parsed body, or throws ApiError (LoginRequired when the session is gone). */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  let res = await send(method, path, body);
  if (res.status === 401 && (await refresh())) res = await send(method, path, body);
  const parsed = (await parse(res)) as { code?: string; message?: string; details?: Record<string, unknown> } | null;
  if (res.ok) return parsed as T;
  const code = parsed?.code ?? 'http_error';
  const message = parsed?.message ?? `HTTP ${res.status}`;
  if (res.status === 401) {
    localStorage.removeItem(CSRF_KEY);
    onLoginRequired();
    throw new LoginRequired(res.status, code, message, parsed?.details);
  }
  throw new ApiError(res.status, code, message, parsed?.details);
}

export async function login(username: string, password: string, totp: string): Promise<void> {
  const res = await send('POST', '/auth/login', {
    username,
    password,
    ...(totp ? { totp } : {}),
    session: 'cookie',
  });
  const body = (await parse(res)) as { csrf_token?: string; code?: string; message?: string } | null;
  if (res.status !== 200 || !body?.csrf_token)
    throw new ApiError(res.status, body?.code ?? 'http_error', body?.message ?? `HTTP ${res.status}`);
  localStorage.setItem(CSRF_KEY, body.csrf_token);
}

export async function logout(): Promise<void> {
  try {
    await api('POST', '/auth/logout');
  } finally {
    localStorage.removeItem(CSRF_KEY);
  }
}

export function hasSession(): boolean {
  return csrf() !== null;
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import Tokens from '@fastify/csrf';
import { Clawd402Error, logEvent } from '@clawd402/protocol';

/**
 * The console's session cookies. Browsers get the tokens only as httpOnly, Secure, SameSite=Strict cookies that
 * scripts cannot read; a state-changing request authenticated by cookie must also carry the CSRF token (double
 * submit: the `x-csrf-token` header is checked against a secret in its own httpOnly cookie, and the token is bound to
 * the session). Bearer-token clients (agents, CLI) are not affected: a browser cannot attach an Authorization header
 * cross-site. Token primitives from @fastify/csrf.
 */
export const ACCESS_COOKIE = 'c402_at';
export const REFRESH_COOKIE = 'c402_rt';
export const CSRF_COOKIE = 'c402_csrf';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const BASE = { httpOnly: true, secure: true, sameSite: 'strict' as const };
// The callable's typing resolves to the plain overload; with userInfo every create/verify takes the session id.
const csrf = Tokens({ userInfo: true }) as unknown as Tokens.TokensUserinfo;

/** Set the session cookies; returns the CSRF token the console sends back on every write. */
export function setSessionCookies(
  reply: FastifyReply,
  session: { id: string; access: string; accessSeconds: number; refresh: string; refreshSeconds: number },
): string {
  const secret = csrf.secretSync();
  reply.setCookie(ACCESS_COOKIE, session.access, { ...BASE, path: '/', maxAge: session.accessSeconds });
  reply.setCookie(REFRESH_COOKIE, session.refresh, { ...BASE, path: '/auth/refresh', maxAge: session.refreshSeconds });
  reply.setCookie(CSRF_COOKIE, secret, { ...BASE, path: '/', maxAge: session.refreshSeconds });
  return csrf.create(secret, session.id);
}

export function clearSessionCookies(reply: FastifyReply): void {
  reply.clearCookie(ACCESS_COOKIE, { ...BASE, path: '/' });
  reply.clearCookie(REFRESH_COOKIE, { ...BASE, path: '/auth/refresh' });
  reply.clearCookie(CSRF_COOKIE, { ...BASE, path: '/' });
}

/** For a cookie-authenticated, state-changing request: refuse it unless its CSRF token matches this session. */
export function requireCsrf(request: FastifyRequest, sessionId: string): void {
  if (SAFE_METHODS.has(request.method)) return;
  const secret = request.cookies?.[CSRF_COOKIE];
  const token = request.headers[CSRF_HEADER];
  if (!secret || typeof token !== 'string' || !csrf.verify(secret, token, sessionId)) {
    logEvent(request.log, 'auth.csrf_refused', { ip: request.ip, route: request.routeOptions.url });
    throw new Clawd402Error('csrf_token_invalid');
  }
}

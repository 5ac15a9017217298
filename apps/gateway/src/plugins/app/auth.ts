import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Clawd402Error, logEvent } from '@clawd402/protocol';
import type { AgentContext } from '../../domain/agent.ts';
import { ACCESS_COOKIE, requireCsrf } from './cookies.ts';
import { roleHasPermission, type RouteAccess } from '../../security/rbac.ts';
import type { Principal, TokenService } from '../../security/tokens.ts';

export type { AgentContext } from '../../domain/agent.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a route requires, or 'public'. Required on every route. */
    permission?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** Set for agent principals. */
    agent: AgentContext | null;
  }
  interface FastifyInstance {
    /** onRequest hook: authenticate the bearer token and check the route's declared permission. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** Every registered route with the access it declared (for the route-permission walk and docs). */
    routeAccess: { method: string; url: string; permission: RouteAccess }[];
  }
}

/**
 * Refuse a well-signed token whose key, agent or session no longer stands: logged as `auth.token_refused` with whose
 * it is, where it came from and why, and answered `unauthenticated` (with `message`, or the catalogue's).
 */
function refuseToken(
  request: FastifyRequest,
  who: { agentId: string; apiKeyId: string } | { userId: string; sessionId: string },
  reason: string,
  message?: string,
): never {
  logEvent(request.log, 'auth.token_refused', { ...who, ip: request.ip, reason });
  throw new Clawd402Error('unauthenticated', message);
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/;

/**
 * Authentication and authorisation. Every route must declare `config.permission`; a route without one stops the
 * app at start-up, so no route is reachable by accident. Protected route plugins add `app.authenticate` as an
 * onRequest hook, which runs before the body is parsed or validated.
 *
 * Each request re-checks what a token cannot carry: an agent's API key must still be unrevoked and unexpired and
 * its agent enabled (so revocation is immediate on every process), and a human's session must still be active
 * (logout, eviction and password change end it at once; use slides its 15-minute idle window).
 */
export default fp(
  async (app, options: { tokens: TokenService }) => {
    app.decorateRequest('principal', null);
    app.decorateRequest('agent', null);
    const routeAccess: { method: string; url: string; permission: RouteAccess }[] = [];
    app.decorate('routeAccess', routeAccess);
    app.addHook('onRoute', (route) => {
      const permission = route.config?.permission;
      if (!permission) throw new Error(`route ${[route.method].flat().join(',')} ${route.url} declares no permission`);
      for (const method of [route.method].flat())
        if (method !== 'HEAD') routeAccess.push({ method, url: route.url, permission });
    });
    app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
      const permission = request.routeOptions.config.permission;
      if (!permission) throw new Clawd402Error('forbidden');
      if (permission === 'public') return;
      // A bearer header (agents, CLI), or else the console's httpOnly cookie, which also needs the CSRF token on writes.
      const cookieToken = request.headers.authorization === undefined ? request.cookies?.[ACCESS_COOKIE] : undefined;
      const match = cookieToken === undefined ? BEARER.exec(request.headers.authorization ?? '') : null;
      if (!cookieToken && !match) throw new Clawd402Error('unauthenticated', 'A bearer token is required.');
      const principal = await options.tokens.verify(cookieToken ?? match![1]!);
      if (cookieToken) {
        if (principal.kind !== 'user')
          throw new Clawd402Error('unauthenticated', 'Agents authenticate with a bearer token.');
        requireCsrf(request, principal.sessionId);
      }
      if (principal.kind === 'agent') {
        const { context, quarantinedUntil } = await app.services.auth.agentKey(principal.apiKeyId, principal.agentId);
        if (!context) {
          refuseToken(
            request,
            { agentId: principal.agentId, apiKeyId: principal.apiKeyId },
            'key revoked or expired, or agent disabled',
          );
        }
        // Repeated hostile intents quarantine a key for an hour (docs/intent-hygiene.md); it says until when.
        if (quarantinedUntil) {
          const until = quarantinedUntil.toISOString();
          logEvent(request.log, 'auth.token_refused', {
            agentId: principal.agentId,
            apiKeyId: principal.apiKeyId,
            reason: 'key quarantined',
            until,
          });
          reply.header('retry-after', String(Math.max(1, Math.ceil((quarantinedUntil.getTime() - Date.now()) / 1000))));
          throw new Clawd402Error(
            'api_key_quarantined',
            `The API key is quarantined until ${until} after repeated hostile intents.`,
            { details: { until } },
          );
        }
        request.agent = {
          agentId: principal.agentId,
          apiKeyId: principal.apiKeyId,
          signerAddress: context.signerAddress,
          scopes: context.scopes,
        };
      } else {
        const session = await app.services.auth.touchSession(principal.sessionId, principal.userId);
        if (!session) {
          refuseToken(
            request,
            { userId: principal.userId, sessionId: principal.sessionId },
            'session ended',
            'The session has ended; log in again.',
          );
        }
        // In production an owner must have a second factor: until then, only their own session routes (TOTP enrolment).
        if (
          app.services.config.env === 'production' &&
          principal.role === 'owner' &&
          !session.totpEnabled &&
          permission !== 'session:self'
        ) {
          throw new Clawd402Error('totp_enrollment_required');
        }
      }
      if (!roleHasPermission(principal.role, permission)) {
        logEvent(request.log, 'auth.forbidden', {
          principal: principal.kind === 'agent' ? `agent:${principal.agentId}` : `user:${principal.userId}`,
          role: principal.role,
          permission,
          route: request.routeOptions.url,
        });
        throw new Clawd402Error('forbidden');
      }
      request.principal = principal;
    });
  },
  { name: 'auth' },
);

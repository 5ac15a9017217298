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
    /** The permission a route requires, or 'public': set at registration from the route-permission table. */
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
    /** Every registered route with the access the table gives it (for the route-permission walk and docs). */
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
 * Authentication and authorisation. Every route's permission comes from one table, `routePermissions` (app.ts passes
 * routes/route-permissions.ts), applied when the route is registered: a route missing from the table, or declaring a
 * permission of its own, stops the app at start-up, and so does an entry that matches no route once the app is ready,
 * so no route is reachable by accident and the table is exactly the routes. Protected route plugins add
 * `app.authenticate` as an onRequest hook, which runs before the body is parsed or validated.
 *
 * Each request re-checks what a token cannot carry: an agent's API key must still be unrevoked and unexpired and
 * its agent enabled (so revocation is immediate on every process), and a human's session must still be active
 * (logout, eviction and password change end it at once; use slides its 15-minute idle window).
 */
export default fp(
  async (app, options: { tokens: TokenService; routePermissions: Readonly<Record<string, RouteAccess>> }) => {
    app.decorateRequest('principal', null);
    app.decorateRequest('agent', null);
    const routeAccess: { method: string; url: string; permission: RouteAccess }[] = [];
    app.decorate('routeAccess', routeAccess);
    const table = options.routePermissions;
    const matched = new Set<string>();
    app.addHook('onRoute', (route) => {
      const methods = [route.method].flat();
      const name = `${methods.join(',')} ${route.url}`;
      if (route.config?.permission !== undefined)
        throw new Error(`route ${name} declares its own permission; the route-permission table holds every route's`);
      // The HEAD route fastify adds for each GET takes the GET's entry, also the one it adds at a prefixed GET's
      // trailing slash (`/docs/` beside `/docs`).
      const keys = methods.map((method) =>
        method === 'HEAD'
          ? `GET ${route.url.length > 1 ? route.url.replace(/\/$/, '') : route.url}`
          : `${method} ${route.url}`,
      );
      const permissions = new Set(keys.map((key) => (Object.hasOwn(table, key) ? table[key] : undefined)));
      const [permission] = permissions;
      if (permissions.size !== 1 || !permission)
        throw new Error(`route ${name} has no single permission in the route-permission table`);
      route.config = { permission, ...route.config };
      for (const [i, method] of methods.entries())
        if (method !== 'HEAD') {
          matched.add(keys[i]!);
          routeAccess.push({ method, url: route.url, permission });
        }
    });
    app.addHook('onReady', async () => {
      const unmatched = Object.keys(table).filter((key) => !matched.has(key));
      if (unmatched.length > 0)
        throw new Error(`the route-permission table names routes that do not exist: ${unmatched.join(', ')}`);
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

import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Clawd402Error } from '@clawd402/protocol';
import { roleHasPermission, type RouteAccess } from '../../security/rbac.ts';
import type { Principal, TokenService } from '../../security/tokens.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a route requires, or 'public'. Required on every route. */
    permission?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** onRequest hook: authenticate the bearer token and check the route's declared permission. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/**
 * Authentication and authorisation. Every route must declare `config.permission`; a route without one stops the
 * app at start-up, so no route is reachable by accident. Protected route plugins add `app.authenticate` as an
 * onRequest hook, which runs before the body is parsed or validated.
 */
export default fp(
  async (app, options: { tokens: TokenService }) => {
    app.decorateRequest('principal', null);
    app.addHook('onRoute', (route) => {
      const permission = (route.config as { permission?: RouteAccess } | undefined)?.permission;
      if (!permission) throw new Error(`route ${route.method} ${route.url} declares no permission`);
    });
    app.decorate('authenticate', async (request: FastifyRequest) => {
      const permission = request.routeOptions.config.permission;
      if (!permission) throw new Clawd402Error('forbidden');
      if (permission === 'public') return;
      const match = BEARER.exec(request.headers.authorization ?? '');
      if (!match) throw new Clawd402Error('unauthenticated', 'A bearer token is required.');
      const principal = await options.tokens.verify(match[1]!);
      if (!roleHasPermission(principal.role, permission)) {
        request.log.warn({ principal: principal.agentId, role: principal.role, permission }, 'authorization refused');
        throw new Clawd402Error('forbidden');
      }
      request.principal = principal;
    });
  },
  { name: 'auth' },
);

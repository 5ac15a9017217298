import type { Principal, UserPrincipal } from '../domain/principal.ts';

/**
 * The acting user of a route only users reach: its permission is one no agent role holds (admin routes, session
 * routes), and `app.authenticate` has checked it before the handler runs.
 */
export function me(request: { principal: Principal | null }): UserPrincipal {
  return request.principal as UserPrincipal;
}

import type { RouteAccess } from '../security/rbac.ts';

/** A route as `METHOD /url`, the URL as registered (with its `:params`). HEAD takes its GET's entry. */
export type RouteKey = `${'GET' | 'POST' | 'PUT' | 'DELETE'} /${string}`;

/**
 * The permission every route requires, or `public`: the whole route-to-permission map in one reviewable place (what
 * each permission means and which roles hold it is security/rbac.ts). The auth plugin applies it when a route is
 * registered and refuses to start when a registered route is missing here or an entry here matches no route, so
 * access stays default-deny and this table cannot drift from the routes. Grouped by the file that defines the route.
 */
export const ROUTE_PERMISSIONS = {
  // health.ts
  'GET /health': 'public',
  // auth/token.ts
  'POST /auth/token': 'public',
  // auth/sessions.ts
  'POST /auth/login': 'public',
  'POST /auth/refresh': 'public',
  'POST /auth/totp/enroll': 'session:self',
  'POST /auth/totp/confirm': 'session:self',
  'POST /auth/logout': 'session:self',
  'GET /auth/sessions': 'session:self',
  'DELETE /auth/sessions/:id': 'session:self',
  'DELETE /auth/sessions': 'session:self',
  'POST /auth/password': 'session:self',
  // admin/users.ts
  'GET /admin/users': 'users:read',
  'POST /admin/users': 'users:write',
  'POST /admin/users/:id/role': 'users:role',
  'POST /admin/users/:id/disable': 'users:write',
  'GET /admin/users/:id/sessions': 'users:read',
  'DELETE /admin/users/:id/sessions/:sessionId': 'users:write',
  // admin/agents.ts
  'GET /admin/agents': 'agents:read',
  'POST /admin/agents': 'agents:write',
  'POST /admin/agents/:id/keys': 'agents:write',
  'POST /admin/keys/:id/rotate': 'agents:write',
  'PUT /admin/keys/:id/scopes': 'agents:write',
  'POST /admin/keys/:id/revoke': 'agents:write',
  'POST /admin/keys/:id/quarantine/release': 'agents:write',
  'POST /admin/agents/:id/disable': 'agents:write',
  'GET /admin/signer/keys': 'agents:read',
  'POST /admin/agents/:id/signer': 'agents:write',
  'GET /admin/keys/age-report': 'agents:read',
  // admin/notifications.ts
  'GET /admin/notifications/channels': 'notifications:read',
  'PUT /admin/notifications/channels/:name': 'notifications:write',
  'DELETE /admin/notifications/channels/:name': 'notifications:write',
  'POST /admin/notifications/channels/:name/test': 'notifications:write',
  'GET /admin/notifications/outbox': 'notifications:read',
  'POST /admin/notifications/outbox/:id/retry': 'notifications:write',
  // admin/costs.ts
  'GET /admin/costs': 'costs:read',
  'PUT /admin/costs/limits': 'costs:limits',
  'POST /admin/costs/reset': 'costs:reset',
  // admin/approvals.ts
  'GET /admin/approvals': 'approvals:read',
  'GET /admin/approvals/:id': 'approvals:read',
  'POST /admin/approvals/:id/approve': 'approvals:decide',
  'POST /admin/approvals/:id/reject': 'approvals:decide',
  // admin/registry.ts
  'GET /admin/assets': 'registry:read',
  'PUT /admin/assets/:chainId/:asset': 'registry:write',
  'DELETE /admin/assets/:chainId/:asset': 'registry:write',
  'GET /admin/contracts': 'registry:read',
  'PUT /admin/contracts/:chainId/:address': 'registry:write',
  'DELETE /admin/contracts/:chainId/:address': 'registry:write',
  // admin/policies.ts
  'POST /admin/policies': 'policies:write',
  'GET /admin/policies': 'policies:read',
  'GET /admin/policies/:version': 'policies:read',
  'POST /admin/policies/:version/activate': 'policies:activate',
  'POST /admin/policies/lint': 'policies:read',
  'POST /admin/policies/dry-run': 'policies:write',
  // admin/intents.ts
  'GET /admin/intents': 'intents:inspect',
  'GET /admin/intents/:id': 'intents:inspect',
  'POST /admin/intents/:id/cancel': 'intents:manage',
  'POST /admin/intents/:id/speed-up': 'intents:manage',
  // admin/killswitch.ts
  'GET /admin/killswitch': 'killswitch:read',
  'POST /admin/killswitch': 'killswitch:engage',
  'POST /admin/killswitch/release': 'killswitch:release',
  'POST /admin/agents/:id/pause': 'pauses:write',
  'POST /admin/agents/:id/resume': 'pauses:write',
  'POST /admin/keys/:id/pause': 'pauses:write',
  'POST /admin/keys/:id/resume': 'pauses:write',
  'POST /admin/chains/:chainId/pause': 'pauses:write',
  'POST /admin/chains/:chainId/resume': 'pauses:write',
  // admin/alerts.ts
  'GET /admin/alerts': 'alerts:read',
  'POST /admin/alerts/:id/ack': 'alerts:manage',
  'POST /admin/alerts/:id/resolve': 'alerts:manage',
  // admin/audit.ts
  'GET /admin/audit': 'audit:read',
  // admin/ip-blocks.ts
  'GET /admin/ip-blocks': 'blocks:read',
  'DELETE /admin/ip-blocks/:id': 'blocks:lift',
  // admin/chains.ts
  'GET /admin/chains': 'chains:read',
  // admin/jobs.ts
  'GET /admin/jobs': 'jobs:read',
  'POST /admin/jobs/:name/run': 'jobs:run',
  // admin/security.ts
  'GET /admin/security-status': 'security:read',
  'GET /admin/security-report': 'security:read',
  // admin/personal-data.ts
  'DELETE /admin/users/:id/personal-data': 'privacy:erase',
  'DELETE /admin/agents/:id/personal-data': 'privacy:erase',
  // admin/incidents.ts
  'GET /admin/incidents': 'incidents:read',
  'GET /admin/incidents/:id': 'incidents:read',
  'POST /admin/incidents/:id/ack': 'incidents:manage',
  'POST /admin/incidents/:id/notes': 'incidents:manage',
  'POST /admin/incidents/:id/resolve': 'incidents:manage',
  // v1/intents.ts
  'POST /v1/intents': 'intents:create',
  'GET /v1/intents/:id': 'intents:read',
  'GET /v1/intents': 'intents:read',
  // v1/intent-actions.ts
  'POST /v1/intents/:id/cancel': 'intents:cancel',
  // v1/intent-events.ts
  'GET /v1/intents/events': 'intents:read',
  // well-known.ts
  'GET /.well-known/jwks.json': 'public',
  // metrics.ts
  'GET /metrics': 'metrics:read',
  // rpc.ts
  'POST /rpc': 'intents:create',
  'POST /rpc/:chainId': 'intents:create',
  // mcp/mcp.ts
  'POST /mcp': 'intents:create',
  'GET /mcp': 'intents:read',
  'DELETE /mcp': 'intents:read',
  // v1/budget.ts
  'GET /v1/budget': 'intents:read',
  // console.ts
  'GET /console': 'public',
  'GET /console/*': 'public',
} as const satisfies Record<RouteKey, RouteAccess>;

/** The OpenAPI description and its UI (@fastify/swagger-ui), served outside production only: public. */
export const DOCS_ROUTE_PERMISSIONS = {
  'GET /docs': 'public',
  'GET /docs/static/index.html': 'public',
  'GET /docs/static/swagger-initializer.js': 'public',
  'GET /docs/json': 'public',
  'GET /docs/yaml': 'public',
  'GET /docs/static/*': 'public',
} as const satisfies Record<RouteKey, RouteAccess>;

import type { UserRole } from './tokens.ts';

/**
 * Who may do what: the one place access is decided (documented in docs/rbac.md; a test keeps the two in step).
 * Every route declares one permission in `config.permission`, or `public`; app.ts refuses to start if a route
 * declares none, and a test walks every registered route. Object-level rules (an agent sees only its own intents,
 * only an owner grants the owner role) are enforced in the handlers on top of this.
 */
export const ROLES = ['owner', 'admin', 'operator', 'approver', 'viewer', 'agent'] as const;
export type Role = UserRole | 'agent';

export const PERMISSIONS = {
  'intents:create': 'Submit transaction intents (agents, for their own key).',
  'intents:read': 'Read own intents (agents).',
  'session:self': "Log out, list and end one's own sessions (humans).",
  'users:read': 'List users.',
  'users:write': 'Create and disable users (not owners, unless an owner does it).',
  'users:role': "Change a user's role.",
  'agents:read': 'List agents, their keys (never secrets) and the key age report.',
  'agents:write': 'Create and disable agents; issue, rotate and revoke their API keys.',
} as const;
export type Permission = keyof typeof PERMISSIONS;
export type RouteAccess = Permission | 'public';

const HUMAN: Permission[] = ['session:self'];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  owner: [...HUMAN, 'users:read', 'users:write', 'users:role', 'agents:read', 'agents:write'],
  admin: [...HUMAN, 'users:read', 'users:write', 'agents:read', 'agents:write'],
  operator: [...HUMAN, 'agents:read', 'agents:write'],
  approver: [...HUMAN],
  viewer: [...HUMAN, 'agents:read'],
  agent: ['intents:create', 'intents:read'],
};

export function roleHasPermission(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

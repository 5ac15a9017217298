/**
 * Permissions, and which roles hold them: the one place access is decided. Every route declares one permission in
 * its `config.permission` (or `public`); app.ts refuses to start if a route declares none. The identity issue adds
 * the human roles (owner, admin, operator, approver, viewer) and the admin permissions.
 */
export const PERMISSIONS = ['intents:create', 'intents:read'] as const;
export type Permission = (typeof PERMISSIONS)[number];
export type RouteAccess = Permission | 'public';

export type Role = 'agent';

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  agent: ['intents:create', 'intents:read'],
};

export function roleHasPermission(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

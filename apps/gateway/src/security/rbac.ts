import type { UserRole } from './tokens.ts';

/**
 * Who may do what: the one place access is decided (documented in docs/rbac.md; a test keeps the two in step).
 * Every route requires one permission, or `public`, given in routes/route-permissions.ts; the auth plugin refuses to
 * start if a route is missing from that table or an entry matches no route, and a test walks every registered route. Object-level rules (an agent sees only its own intents,
 * only an owner grants the owner role) are enforced in the handlers on top of this.
 */
export const ROLES = ['owner', 'admin', 'operator', 'approver', 'viewer', 'agent'] as const;
export type Role = UserRole | 'agent';

export const PERMISSIONS = {
  'intents:create': 'Submit transaction intents (agents, for their own key).',
  'intents:read': 'Read own intents (agents).',
  'intents:cancel': 'Cancel own intents, on chain if already signed (agents).',
  'intents:manage': "Cancel or speed up any agent's intent (stuck or unwanted transactions).",
  'session:self': "Log out, list and end one's own sessions (humans).",
  'users:read': 'List users.',
  'users:write': 'Create and disable users (not owners, unless an owner does it).',
  'users:role': "Change a user's role.",
  'agents:read': 'List agents, their keys (never secrets) and the key age report.',
  'agents:write': 'Create and disable agents; issue, rotate and revoke their API keys.',
  'policies:read': 'List policy versions and read their text and lint results.',
  'policies:write': 'Upload policy versions and dry-run a candidate set (nothing is activated).',
  'policies:activate': 'Make a policy version the one every gateway decides with.',
  'notifications:read': 'List notification channels (secrets show only a hint).',
  'notifications:write': 'Create, change, delete and test notification channels.',
  'costs:read': 'See spend by agent, API key, asset and chain against limits and circuit-breaker state.',
  'costs:limits': 'Set spend limits and breaker thresholds per scope (owners).',
  'costs:reset': 'Reset a circuit breaker, including a latched emergency (owners).',
  'approvals:read': 'List intents waiting for a human and past approvals.',
  'approvals:decide':
    'Approve or reject an intent that waits for a human (counts once per user, for the digest shown).',
  'registry:read': 'List the asset registry (prices) and the verified-contract registry.',
  'registry:write': 'Change the asset registry and the verified-contract registry.',
  'metrics:read': 'Read the Prometheus metrics at GET /metrics (rate-limit refusals, store errors, process figures).',
  'killswitch:read': "See whether the kill switch is engaged, the signer's latch and every pause.",
  'killswitch:engage':
    'Engage the kill switch: every gateway stops signing, the signer latches, in-flight is cancelled (owners, TOTP).',
  'killswitch:release': "Release the kill switch, with the owners' signer release authorisation (owners, TOTP).",
  'pauses:write': 'Pause and resume an agent, an API key or a chain (its intents are refused meanwhile).',
  'intents:inspect': "List and read any agent's intents, with their decision, reasons and audit trail.",
  'audit:read': 'Read the audit log, with the chain segment read verified.',
  'alerts:read': 'List alerts (docs/incidents.md).',
  'alerts:manage': 'Acknowledge and resolve alerts.',
  'incidents:read': 'List incidents and read one with its timeline (docs/incidents.md).',
  'incidents:manage': 'Acknowledge, annotate and resolve incidents, and revert their automatic responses.',
  'blocks:read': 'List IP addresses blocked after failed logins.',
  'blocks:lift': 'Lift an IP block.',
  'chains:read': 'See each chain and the health of its RPC endpoints and relays.',
  'jobs:read': 'List the scheduled jobs (retention, audit verification, backups) and their run history.',
  'jobs:run': 'Run a scheduled job now (on the first free replica; audited).',
  'security:read':
    'Read the security status (the hardening baseline scored with evidence and fixes) and the weekly security report.',
  'privacy:erase': "Erase a user's personal data or an agent's memos (owners; docs/privacy.md).",
} as const;
export type Permission = keyof typeof PERMISSIONS;
export type RouteAccess = Permission | 'public';

const HUMAN: Permission[] = ['session:self'];
/** Reading what an incident needs (docs/incidents.md): intents across agents, audit, alerts, IP blocks, RPC health. */
const INCIDENT_READ: Permission[] = [
  'intents:inspect',
  'audit:read',
  'alerts:read',
  'incidents:read',
  'blocks:read',
  'chains:read',
];
/** Responding to one: acknowledging and resolving alerts and incidents, lifting IP blocks. */
const INCIDENT: Permission[] = [...INCIDENT_READ, 'alerts:manage', 'incidents:manage', 'blocks:lift'];

/** An admin manages the installation day to day; an owner can do all of it and more (below). */
const ADMIN: Permission[] = [
  ...HUMAN,
  'users:read',
  'users:write',
  'agents:read',
  'agents:write',
  'policies:read',
  'policies:write',
  'policies:activate',
  'notifications:read',
  'notifications:write',
  'costs:read',
  'registry:read',
  'registry:write',
  'metrics:read',
  'approvals:read',
  'approvals:decide',
  'intents:manage',
  'killswitch:read',
  'pauses:write',
  ...INCIDENT,
  'jobs:read',
  'jobs:run',
  'security:read',
];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  owner: [
    ...ADMIN,
    'users:role',
    'costs:limits',
    'costs:reset',
    'killswitch:engage',
    'killswitch:release',
    'privacy:erase',
  ],
  admin: ADMIN,
  operator: [
    ...HUMAN,
    'agents:read',
    'agents:write',
    'policies:read',
    'notifications:read',
    'costs:read',
    'registry:read',
    'approvals:read',
    'intents:manage',
    'killswitch:read',
    'pauses:write',
    ...INCIDENT,
    'jobs:read',
  ],
  approver: [...HUMAN, 'approvals:read', 'approvals:decide'],
  viewer: [
    ...HUMAN,
    'agents:read',
    'policies:read',
    'notifications:read',
    'costs:read',
    'registry:read',
    'approvals:read',
    'killswitch:read',
    ...INCIDENT_READ,
    'jobs:read',
  ],
  agent: ['intents:create', 'intents:read', 'intents:cancel'],
};

export function roleHasPermission(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

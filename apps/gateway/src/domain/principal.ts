/** The human roles, most powerful first. Agents have the role `agent`. */
export const USER_ROLES = ['owner', 'admin', 'operator', 'approver', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export type AgentPrincipal = { kind: 'agent'; agentId: string; apiKeyId: string; role: 'agent'; tokenId: string };
export type UserPrincipal = { kind: 'user'; userId: string; role: UserRole; sessionId: string; tokenId: string };
/** Who a verified access token names. `tokenId` is the token's `jti`. */
export type Principal = AgentPrincipal | UserPrincipal;

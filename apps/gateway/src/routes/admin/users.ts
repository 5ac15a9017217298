import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import Type from 'typebox';
import argon2 from 'argon2';
import { Clawd402Error, ErrorBody } from '@clawd402/protocol';
import { withTransaction } from '../../db/pool.ts';
import { appendAudit } from '../../repositories/audit-repository.ts';
import { revokeUserSessions } from '../../repositories/sessions-repository.ts';
import { createUser, disableUser, findUser, listUsers, setUserRole, type UserRecord } from '../../repositories/users-repository.ts';
import { ARGON2_OPTIONS } from '../../security/api-keys.ts';
import type { Principal, UserRole } from '../../security/tokens.ts';
import { assertStrongPassword } from '../auth/sessions.ts';

const HUMAN_ROLES = ['owner', 'admin', 'operator', 'approver', 'viewer'] as const;
const RoleSchema = Type.Union(HUMAN_ROLES.map((r) => Type.Literal(r)));
const UserView = Type.Object(
  { id: Type.String(), username: Type.String(), role: Type.String(), disabled: Type.Boolean(), createdAt: Type.String() },
  { additionalProperties: false },
);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const view = (u: UserRecord) => ({ id: u.id, username: u.username, role: u.role, disabled: u.disabled, createdAt: u.createdAt.toISOString() });

export function me(request: FastifyRequest): Extract<Principal, { kind: 'user' }> {
  return request.principal as Extract<Principal, { kind: 'user' }>;
}

/** /admin/users: user management. Registered inside routes/admin/index.ts (IP allowlist, authentication). */
const adminUsers: FastifyPluginAsync = async (app) => {
  const { pool } = app.services;

  async function target(id: string): Promise<UserRecord> {
    const found = UUID.test(id) ? await findUser(pool, id) : null;
    if (!found) throw new Clawd402Error('not_found', 'No such user.');
    return found;
  }

  app.get(
    '/admin/users',
    { config: { permission: 'users:read' }, schema: { response: { 200: Type.Object({ items: Type.Array(UserView) }), '4xx': ErrorBody } } },
    async () => ({ items: (await listUsers(pool)).map(view) }),
  );

  app.post(
    '/admin/users',
    {
      config: { permission: 'users:write' },
      schema: {
        body: Type.Object(
          { username: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._@-]+$' }), password: Type.String({ maxLength: 256 }), role: RoleSchema },
          { additionalProperties: false },
        ),
        response: { 201: UserView, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const actor = me(request);
      const body = request.body as { username: string; password: string; role: UserRole };
      if (body.role === 'owner' && actor.role !== 'owner') throw new Clawd402Error('forbidden', 'Only an owner creates owners.');
      assertStrongPassword(body.password);
      const hash = await argon2.hash(body.password, ARGON2_OPTIONS);
      const id = await withTransaction(pool, async (client) => {
        const existing = await client.query('SELECT 1 FROM users WHERE username = $1', [body.username]);
        if (existing.rowCount) throw new Clawd402Error('username_taken');
        const created = await createUser(client, { username: body.username, passwordHash: hash, role: body.role });
        await appendAudit(client, { actor: `user:${actor.userId}`, action: 'user.created', subject: `user:${created}`, data: { username: body.username, role: body.role } });
        return created;
      });
      return reply.status(201).send(view((await findUser(pool, id))!));
    },
  );

  app.post(
    '/admin/users/:id/role',
    {
      config: { permission: 'users:role' },
      schema: {
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        body: Type.Object({ role: RoleSchema }, { additionalProperties: false }),
        response: { 200: UserView, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const actor = me(request);
      const subject = await target((request.params as { id: string }).id);
      const { role } = request.body as { role: UserRole };
      if (subject.id === actor.userId) throw new Clawd402Error('forbidden', 'Nobody changes their own role.');
      await withTransaction(pool, async (client) => {
        await setUserRole(client, subject.id, role);
        // A new role must not ride on tokens issued for the old one.
        await revokeUserSessions(client, subject.id, 'role_changed');
        await appendAudit(client, { actor: `user:${actor.userId}`, action: 'user.role_changed', subject: `user:${subject.id}`, data: { from: subject.role, to: role } });
      });
      return view((await findUser(pool, subject.id))!);
    },
  );

  app.post(
    '/admin/users/:id/disable',
    {
      config: { permission: 'users:write' },
      schema: { params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 200: UserView, '4xx': ErrorBody } },
    },
    async (request) => {
      const actor = me(request);
      const subject = await target((request.params as { id: string }).id);
      if (subject.id === actor.userId) throw new Clawd402Error('forbidden', 'Nobody disables themselves.');
      if (subject.role === 'owner' && actor.role !== 'owner') throw new Clawd402Error('forbidden', 'Only an owner disables an owner.');
      await withTransaction(pool, async (client) => {
        await disableUser(client, subject.id, `disabled by user:${actor.userId}`);
        await revokeUserSessions(client, subject.id, 'user_disabled');
        await appendAudit(client, { actor: `user:${actor.userId}`, action: 'user.disabled', subject: `user:${subject.id}`, data: {} });
      });
      return view((await findUser(pool, subject.id))!);
    },
  );
};
export default adminUsers;

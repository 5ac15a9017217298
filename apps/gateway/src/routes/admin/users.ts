import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody } from '@clawd402/protocol';
import type { UserRecord } from '../../services/users-service.ts';
import { me } from '../acting-user.ts';
import { SessionFields, sessionView } from '../session-view.ts';
import { IdParams, Literals, NoContent } from '../schemas.ts';
import { ItemList } from '../list-query.ts';

const HUMAN_ROLES = ['owner', 'admin', 'operator', 'approver', 'viewer'] as const;
const RoleSchema = Literals(HUMAN_ROLES);
const UserView = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    role: Type.String(),
    disabled: Type.Boolean(),
    createdAt: Type.String(),
  },
  { additionalProperties: false },
);

const SessionView = Type.Object(SessionFields, { additionalProperties: false });

const view = (u: UserRecord) => ({
  id: u.id,
  username: u.username,
  role: u.role,
  disabled: u.disabled,
  createdAt: u.createdAt.toISOString(),
});

/** /admin/users: user management. Registered inside routes/admin/index.ts (IP allowlist, authentication). */
const adminUsers: FastifyPluginAsyncTypebox = async (app) => {
  const { users } = app.services;

  app.get(
    '/admin/users',
    {
      schema: { response: { 200: ItemList(UserView), '4xx': ErrorBody } },
    },
    async () => ({ items: (await users.list()).map(view) }),
  );

  app.post(
    '/admin/users',
    {
      schema: {
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._@-]+$' }),
            password: Type.String({ maxLength: 256 }),
            role: RoleSchema,
          },
          { additionalProperties: false },
        ),
        response: { 201: UserView, '4xx': ErrorBody },
      },
    },
    async (request, reply) => reply.status(201).send(view(await users.create(me(request), request.body))),
  );

  app.post(
    '/admin/users/:id/role',
    {
      schema: {
        params: IdParams,
        body: Type.Object({ role: RoleSchema }, { additionalProperties: false }),
        response: { 200: UserView, '4xx': ErrorBody },
      },
    },
    async (request) => view(await users.changeRole(me(request), request.params.id, request.body.role)),
  );

  app.post(
    '/admin/users/:id/disable',
    {
      schema: { params: IdParams, response: { 200: UserView, '4xx': ErrorBody } },
    },
    async (request) => view(await users.disable(me(request), request.params.id)),
  );

  app.get(
    '/admin/users/:id/sessions',
    {
      schema: {
        params: IdParams,
        response: { 200: ItemList(SessionView), '4xx': ErrorBody },
      },
    },
    async (request) => ({
      items: (await users.sessions(request.params.id)).map(sessionView),
    }),
  );

  app.delete(
    '/admin/users/:id/sessions/:sessionId',
    {
      schema: {
        params: Type.Object({ id: Type.String({ maxLength: 64 }), sessionId: Type.String({ maxLength: 64 }) }),
        response: { 204: NoContent, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      await users.endSession(me(request), request.params.id, request.params.sessionId);
      return reply.status(204).send();
    },
  );
};
export default adminUsers;

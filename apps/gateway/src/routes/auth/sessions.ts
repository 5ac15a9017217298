import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { Clawd402Error, ErrorBody } from '@clawd402/protocol';
import { REFRESH_COOKIE, clearSessionCookies, requireCsrf, setSessionCookies } from '../../plugins/app/cookies.ts';
import type { IssuedSession } from '../../services/sessions-service.ts';
import { me as user } from '../acting-user.ts';
import { SessionFields, sessionView } from '../session-view.ts';
import { IdParams, NoContent, withErrors } from '../schemas.ts';
import { ItemList } from '../list-query.ts';

const TokenPair = Type.Object(
  {
    access_token: Type.String(),
    refresh_token: Type.String(),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
  },
  { additionalProperties: false },
);
/** Console login: the tokens travel only in httpOnly cookies; the body carries the CSRF token for later writes. */
const CookieSession = Type.Object(
  { token_type: Type.Literal('Cookie'), expires_in: Type.Integer(), csrf_token: Type.String() },
  { additionalProperties: false },
);
const SessionReply = Type.Union([TokenPair, CookieSession]);
const SessionView = Type.Object({ ...SessionFields, current: Type.Boolean() }, { additionalProperties: false });
const Password = Type.String({ minLength: 1, maxLength: 256 });

/**
 * Human authentication: login (argon2id, brute-force blocking by IP), refresh-token rotation with reuse detection,
 * logout, sessions, password change. Sessions: at most 3 per user, 24 h absolute, 15 min sliding.
 */
const sessions: FastifyPluginAsyncTypebox = async (app) => {
  const { config, sessions: service } = app.services;
  app.addHook('onRequest', app.authenticate);

  /** The tokens as the client asked for them: in the body (API clients) or in httpOnly cookies (the console). */
  const answer = (reply: Parameters<typeof setSessionCookies>[0], issued: IssuedSession, cookie: boolean) => {
    if (cookie) {
      const csrf = setSessionCookies(reply, {
        id: issued.sessionId,
        access: issued.access.token,
        accessSeconds: issued.access.expiresIn,
        refresh: issued.refreshToken,
        refreshSeconds: config.jwtRefreshExpirySeconds,
      });
      return { token_type: 'Cookie' as const, expires_in: issued.access.expiresIn, csrf_token: csrf };
    }
    return {
      access_token: issued.access.token,
      refresh_token: issued.refreshToken,
      token_type: 'Bearer' as const,
      expires_in: issued.access.expiresIn,
    };
  };

  app.post(
    '/auth/login',
    {
      schema: {
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 128 }),
            password: Password,
            totp: Type.Optional(Type.String({ maxLength: 16 })),
            session: Type.Optional(Type.Literal('cookie')),
          },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: SessionReply }),
      },
    },
    async (request, reply) => {
      const { username, password, totp, session } = request.body;
      const issued = await service.login(
        {
          username,
          password,
          ...(totp !== undefined ? { totp } : {}),
          ip: request.ip,
          userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
        },
        request.log,
      );
      return answer(reply, issued, session === 'cookie');
    },
  );

  app.post(
    '/auth/refresh',
    {
      // A console refresh has no body: validate it as an empty object.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        // The refresh token in the body (API clients) or, for the console, in its httpOnly cookie plus the CSRF token.
        body: Type.Optional(
          Type.Object(
            { refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) },
            { additionalProperties: false },
          ),
        ),
        response: withErrors({ 200: SessionReply }),
      },
    },
    async (request, reply) => {
      const fromBody = request.body?.refresh_token;
      const fromCookie = fromBody === undefined ? request.cookies?.[REFRESH_COOKIE] : undefined;
      if (fromCookie) requireCsrf(request, (await service.sessionOfRefreshToken(fromCookie)) ?? 'unknown');
      const presented = fromBody ?? fromCookie;
      if (!presented) throw new Clawd402Error('invalid_refresh_token');
      return answer(reply, await service.refresh(presented, request.ip, request.log), fromCookie !== undefined);
    },
  );

  app.post(
    '/auth/totp/enroll',
    {
      schema: {
        response: withErrors({
          200: Type.Object({ secret: Type.String(), otpauthUri: Type.String() }, { additionalProperties: false }),
        }),
      },
    },
    async (request) => {
      const fresh = await service.enrollTotp(user(request));
      return { secret: fresh.secret, otpauthUri: fresh.uri };
    },
  );

  app.post(
    '/auth/totp/confirm',
    {
      schema: {
        body: Type.Object({ code: Type.String({ maxLength: 16 }) }, { additionalProperties: false }),
        response: withErrors({ 204: NoContent }),
      },
    },
    async (request, reply) => {
      await service.confirmTotp(user(request), request.body.code);
      return reply.status(204).send();
    },
  );

  app.post('/auth/logout', { schema: { response: { 204: NoContent, '4xx': ErrorBody } } }, async (request, reply) => {
    await service.logout(user(request));
    clearSessionCookies(reply);
    return reply.status(204).send();
  });

  app.get(
    '/auth/sessions',
    {
      schema: { response: { 200: ItemList(SessionView), '4xx': ErrorBody } },
    },
    async (request) => {
      const me = user(request);
      const items = await service.list(me.userId);
      return {
        items: items.map((s) => ({ ...sessionView(s), current: s.id === me.sessionId })),
      };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    {
      schema: { params: IdParams, response: { 204: NoContent, '4xx': ErrorBody } },
    },
    async (request, reply) => {
      await service.end(user(request).userId, request.params.id);
      return reply.status(204).send();
    },
  );

  app.delete(
    '/auth/sessions',
    { schema: { response: { 204: NoContent, '4xx': ErrorBody } } },
    async (request, reply) => {
      await service.endAll(user(request).userId);
      return reply.status(204).send();
    },
  );

  app.post(
    '/auth/password',
    {
      schema: {
        body: Type.Object({ current_password: Password, new_password: Password }, { additionalProperties: false }),
        response: { 204: NoContent, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const { current_password: current, new_password: next } = request.body;
      await service.changePassword(user(request), current, next);
      return reply.status(204).send();
    },
  );
};
export default sessions;

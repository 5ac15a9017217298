import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import Type from 'typebox';
import argon2 from 'argon2';
import { Clawd402Error, ErrorBody } from '@clawd402/protocol';
import { withTransaction } from '../../db/pool.ts';
import { activeIpBlock, recordLoginFailure } from '../../repositories/auth-failures-repository.ts';
import { appendAudit } from '../../repositories/audit-repository.ts';
import {
  listActiveSessions,
  openSession,
  revokeSession,
  revokeUserSessions,
  rotateRefreshToken,
  sessionIdOfRefreshToken,
} from '../../repositories/sessions-repository.ts';
import { activateTotp, consumeTotpStep, findUser, findUserByUsername, getTotpState, setPendingTotp } from '../../repositories/users-repository.ts';
import { acceptTotp, newTotpSecret } from '../../security/totp.ts';
import { ARGON2_OPTIONS, verifySecret } from '../../security/api-keys.ts';
import type { Principal } from '../../security/tokens.ts';
import { REFRESH_COOKIE, clearSessionCookies, requireCsrf, setSessionCookies } from '../../security/cookies.ts';

const TokenPair = Type.Object(
  { access_token: Type.String(), refresh_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() },
  { additionalProperties: false },
);
/** Console login: the tokens travel only in httpOnly cookies; the body carries the CSRF token for later writes. */
const CookieSession = Type.Object(
  { token_type: Type.Literal('Cookie'), expires_in: Type.Integer(), csrf_token: Type.String() },
  { additionalProperties: false },
);
const SessionReply = Type.Union([TokenPair, CookieSession]);
const SessionView = Type.Object(
  {
    id: Type.String(),
    createdAt: Type.String(),
    lastSeenAt: Type.String(),
    expiresAt: Type.String(),
    ip: Type.String(),
    userAgent: Type.Union([Type.String(), Type.Null()]),
    current: Type.Boolean(),
  },
  { additionalProperties: false },
);
const Password = Type.String({ minLength: 1, maxLength: 256 });

export function assertStrongPassword(password: string): void {
  if (password.length < 12 || password.length > 256) throw new Clawd402Error('weak_password');
}

function user(request: FastifyRequest): Extract<Principal, { kind: 'user' }> {
  return request.principal as Extract<Principal, { kind: 'user' }>;
}

/**
 * Human authentication: login (argon2id, brute-force blocking by IP), refresh-token rotation with reuse detection,
 * logout, sessions, password change. Sessions: at most 3 per user, 24 h absolute, 15 min sliding.
 */
const sessions: FastifyPluginAsync = async (app) => {
  const { pool, config, tokens } = app.services;
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/auth/login',
    {
      config: { permission: 'public' },
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
        response: { 200: SessionReply, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const { username, password, totp, session } = request.body as { username: string; password: string; totp?: string; session?: 'cookie' };
      const ip = request.ip;
      if (await activeIpBlock(pool, ip)) {
        request.log.warn({ ip }, 'login refused: ip blocked');
        throw new Clawd402Error('ip_blocked');
      }
      const found = await findUserByUsername(pool, username);
      // An unknown username costs one argon2 verification too, so timing does not reveal which usernames exist.
      const valid = await verifySecret(found?.passwordHash ?? null, password);
      if (!found || !valid || found.disabled) {
        const reason = !found ? 'unknown user' : !valid ? 'wrong password' : 'user disabled';
        const blocked = await recordLoginFailure(pool, { ip, reason, subject: username });
        request.log.info({ ip, reason, username, blocked }, 'login failed');
        throw new Clawd402Error(blocked ? 'ip_blocked' : 'invalid_credentials');
      }
      // Second factor, when enrolled: a missing code is asked for; a wrong or replayed one counts as a failed login.
      const factor = await getTotpState(pool, found.id);
      if (factor.sealedSecret) {
        if (!totp) throw new Clawd402Error('totp_required');
        const step = app.services.secrets ? acceptTotp(app.services.secrets.open(factor.sealedSecret, found.id), totp, factor.lastStep) : null;
        if (step === null || !(await consumeTotpStep(pool, found.id, step))) {
          const blocked = await recordLoginFailure(pool, { ip, reason: 'wrong totp', subject: username });
          request.log.info({ ip, reason: 'wrong totp', username, blocked }, 'login failed');
          throw new Clawd402Error(blocked ? 'ip_blocked' : 'invalid_credentials');
        }
      }
      const opened = await withTransaction(pool, async (client) => {
        const result = await openSession(client, {
          userId: found.id,
          ip,
          userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
          absoluteSeconds: config.sessionAbsoluteSeconds,
          refreshSeconds: config.jwtRefreshExpirySeconds,
        });
        await appendAudit(client, {
          actor: `user:${found.id}`,
          action: 'auth.login',
          subject: `session:${result.session.id}`,
          data: { ip, evicted: result.evicted },
        });
        return result;
      });
      const access = await tokens.issueUserToken(found.id, found.role, opened.session.id);
      if (session === 'cookie') {
        const csrf = setSessionCookies(reply, { id: opened.session.id, access: access.token, accessSeconds: access.expiresIn, refresh: opened.refreshToken, refreshSeconds: config.jwtRefreshExpirySeconds });
        return { token_type: 'Cookie' as const, expires_in: access.expiresIn, csrf_token: csrf };
      }
      return { access_token: access.token, refresh_token: opened.refreshToken, token_type: 'Bearer' as const, expires_in: access.expiresIn };
    },
  );

  app.post(
    '/auth/refresh',
    {
      config: { permission: 'public' },
      // A console refresh has no body: validate it as an empty object.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        // The refresh token in the body (API clients) or, for the console, in its httpOnly cookie plus the CSRF token.
        body: Type.Optional(Type.Object({ refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, { additionalProperties: false })),
        response: { 200: SessionReply, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const fromBody = (request.body as { refresh_token?: string } | undefined)?.refresh_token;
      const fromCookie = fromBody === undefined ? request.cookies?.[REFRESH_COOKIE] : undefined;
      if (fromCookie) requireCsrf(request, (await sessionIdOfRefreshToken(pool, fromCookie)) ?? 'unknown');
      const presented = fromBody ?? fromCookie;
      if (!presented) throw new Clawd402Error('invalid_refresh_token');
      const outcome = await withTransaction(pool, async (client) => {
        const result = await rotateRefreshToken(client, presented, config.jwtRefreshExpirySeconds);
        if (result.kind === 'reused') {
          await appendAudit(client, {
            actor: `user:${result.userId}`,
            action: 'auth.refresh_reused',
            subject: `session:${result.sessionId}`,
            data: { ip: request.ip, revoked: 'session' },
          });
          await client.query("INSERT INTO alerts (kind, severity, detail) VALUES ('refresh_token_reused', 'critical', $1)", [
            JSON.stringify({ userId: result.userId, sessionId: result.sessionId, ip: request.ip }),
          ]);
        }
        return result;
      });
      if (outcome.kind !== 'rotated') {
        request.log.warn({ ip: request.ip, outcome: outcome.kind }, 'refresh refused');
        throw new Clawd402Error('invalid_refresh_token');
      }
      const account = await findUser(pool, outcome.userId);
      if (!account || account.disabled) throw new Clawd402Error('invalid_refresh_token');
      const access = await tokens.issueUserToken(account.id, account.role, outcome.sessionId);
      if (fromCookie) {
        const csrf = setSessionCookies(reply, { id: outcome.sessionId, access: access.token, accessSeconds: access.expiresIn, refresh: outcome.refreshToken, refreshSeconds: config.jwtRefreshExpirySeconds });
        return { token_type: 'Cookie' as const, expires_in: access.expiresIn, csrf_token: csrf };
      }
      return { access_token: access.token, refresh_token: outcome.refreshToken, token_type: 'Bearer' as const, expires_in: access.expiresIn };
    },
  );

  app.post(
    '/auth/totp/enroll',
    {
      config: { permission: 'session:self' },
      schema: { response: { 200: Type.Object({ secret: Type.String(), otpauthUri: Type.String() }, { additionalProperties: false }), '4xx': ErrorBody, '5xx': ErrorBody } },
    },
    async (request) => {
      const me = user(request);
      if (!app.services.secrets) throw new Clawd402Error('totp_unavailable');
      const account = (await findUser(pool, me.userId))!;
      const fresh = newTotpSecret(account.username, config.jwtIssuer);
      // Pending until confirmed with a code: a half-finished enrolment never locks the user out.
      await setPendingTotp(pool, me.userId, app.services.secrets.seal(fresh.secret, me.userId));
      return { secret: fresh.secret, otpauthUri: fresh.uri };
    },
  );

  app.post(
    '/auth/totp/confirm',
    {
      config: { permission: 'session:self' },
      schema: { body: Type.Object({ code: Type.String({ maxLength: 16 }) }, { additionalProperties: false }), response: { '4xx': ErrorBody, '5xx': ErrorBody } },
    },
    async (request, reply) => {
      const me = user(request);
      if (!app.services.secrets) throw new Clawd402Error('totp_unavailable');
      const state = await getTotpState(pool, me.userId);
      if (!state.sealedPending) throw new Clawd402Error('not_found', 'No TOTP enrolment is pending; start with POST /auth/totp/enroll.');
      const step = acceptTotp(app.services.secrets.open(state.sealedPending, me.userId), (request.body as { code: string }).code, null);
      if (step === null) throw new Clawd402Error('invalid_totp_code');
      await withTransaction(pool, async (client) => {
        await activateTotp(client, me.userId, step);
        await appendAudit(client, { actor: `user:${me.userId}`, action: 'auth.totp_enabled', subject: `user:${me.userId}`, data: {} });
      });
      return reply.status(204).send();
    },
  );

  app.post('/auth/logout', { config: { permission: 'session:self' }, schema: { response: { '4xx': ErrorBody } } }, async (request, reply) => {
    const me = user(request);
    await revokeSession(pool, me.sessionId, 'logout');
    clearSessionCookies(reply);
    return reply.status(204).send();
  });

  app.get(
    '/auth/sessions',
    { config: { permission: 'session:self' }, schema: { response: { 200: Type.Object({ items: Type.Array(SessionView) }), '4xx': ErrorBody } } },
    async (request) => {
      const me = user(request);
      const items = await listActiveSessions(pool, me.userId);
      return {
        items: items.map((s) => ({
          id: s.id,
          createdAt: s.createdAt.toISOString(),
          lastSeenAt: s.lastSeenAt.toISOString(),
          expiresAt: s.expiresAt.toISOString(),
          ip: s.ip,
          userAgent: s.userAgent,
          current: s.id === me.sessionId,
        })),
      };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    { config: { permission: 'session:self' }, schema: { params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { '4xx': ErrorBody } } },
    async (request, reply) => {
      const me = user(request);
      const { id } = request.params as { id: string };
      const mine = (await listActiveSessions(pool, me.userId)).some((s) => s.id === id);
      if (!mine) throw new Clawd402Error('not_found', 'No such session.');
      await revokeSession(pool, id, 'ended_by_user');
      return reply.status(204).send();
    },
  );

  app.delete('/auth/sessions', { config: { permission: 'session:self' }, schema: { response: { '4xx': ErrorBody } } }, async (request, reply) => {
    await revokeUserSessions(pool, user(request).userId, 'ended_by_user');
    return reply.status(204).send();
  });

  app.post(
    '/auth/password',
    {
      config: { permission: 'session:self' },
      schema: {
        body: Type.Object({ current_password: Password, new_password: Password }, { additionalProperties: false }),
        response: { '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const me = user(request);
      const { current_password: current, new_password: next } = request.body as { current_password: string; new_password: string };
      const account = await findUser(pool, me.userId);
      if (!account || !(await verifySecret(account.passwordHash, current))) throw new Clawd402Error('invalid_credentials');
      assertStrongPassword(next);
      const hash = await argon2.hash(next, ARGON2_OPTIONS);
      await withTransaction(pool, async (client) => {
        await client.query('UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1', [me.userId, hash]);
        const ended = await revokeUserSessions(client, me.userId, 'password_changed');
        await appendAudit(client, { actor: `user:${me.userId}`, action: 'auth.password_changed', subject: `user:${me.userId}`, data: { sessionsEnded: ended } });
      });
      return reply.status(204).send();
    },
  );
};
export default sessions;

import type pg from 'pg';
import argon2 from 'argon2';
import { Clawd402Error, logEvent } from '@clawd402/protocol';
import { withTransaction } from '../db/pool.ts';
import type { Logger } from '../domain/logger.ts';
import type { UserPrincipal } from '../domain/principal.ts';
import { ARGON2_OPTIONS, verifySecret } from '../lib/api-keys.ts';
import { raiseAlert } from '../repositories/alerts-repository.ts';
import { appendAudit } from '../repositories/audit-repository.ts';
import { activeIpBlock, recordLoginFailure } from '../repositories/auth-failures-repository.ts';
import {
  endSessionsOnKeyRotation,
  listActiveSessions,
  openSession,
  revokeSession,
  revokeUserSessions,
  rotateRefreshToken,
  sessionIdOfRefreshToken,
  type SessionRecord,
} from '../repositories/sessions-repository.ts';
import {
  activateTotp,
  consumeTotpStep,
  findUser,
  findUserByUsername,
  getTotpState,
  setPasswordHash,
  setPendingTotp,
} from '../repositories/users-repository.ts';
import type { SecretBox } from '../security/secret-box.ts';
import { auditedChange } from './audited-change.ts';
import { sealPersonal } from './personal-data-service.ts';
import type { TokenService } from '../security/tokens.ts';
import { acceptTotp, newTotpSecret } from '../security/totp.ts';
import { clientNetwork } from '../security/client-address.ts';
import { assertStrongPassword } from './users-service.ts';

export type { SessionRecord } from '../repositories/sessions-repository.ts';

/** What a login or a refresh hands out: a short-lived access token and the session's next refresh token. */
export interface IssuedSession {
  sessionId: string;
  access: { token: string; expiresIn: number };
  refreshToken: string;
}

export interface SessionSettings {
  /** A session's absolute lifetime. */
  absoluteSeconds: number;
  /** A refresh token's lifetime (never beyond its session's). */
  refreshSeconds: number;
  /** Shown in authenticator apps as the TOTP issuer. */
  issuer: string;
}

/**
 * Human authentication: login (argon2id, brute-force blocking by IP, TOTP when enrolled), refresh-token rotation with
 * reuse detection, logout, sessions, password change, and ending every session when the signing key changes.
 */
export class SessionsService {
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      tokens: TokenService;
      secrets: SecretBox | null;
      settings: SessionSettings;
    },
  ) {}

  async login(
    input: { username: string; password: string; totp?: string; ip: string; userAgent: string | null },
    log: Logger,
  ): Promise<IssuedSession> {
    const { pool, tokens, secrets, settings } = this.deps;
    const { username, password, totp, ip } = input;
    if (await activeIpBlock(pool, [ip, clientNetwork(ip)])) {
      logEvent(log, 'auth.login_refused_blocked', { ip });
      throw new Clawd402Error('ip_blocked');
    }
    const found = await findUserByUsername(pool, username);
    // An unknown username costs one argon2 verification too, so timing does not reveal which usernames exist.
    const valid = await verifySecret(found?.passwordHash ?? null, password);
    if (!found || !valid || found.disabled) {
      const reason = !found ? 'unknown user' : !valid ? 'wrong password' : 'user disabled';
      const blocked = await withTransaction(pool, (c) => recordLoginFailure(c, { ip, reason, subject: username }));
      // The user's id when there is one, never the name typed: it may be a password typed in the wrong field.
      logEvent(log, 'auth.login_failed', { ip, reason, userId: found?.id, blocked });
      if (blocked) logEvent(log, 'auth.ip_blocked', { ip, reason });
      throw new Clawd402Error(blocked ? 'ip_blocked' : 'invalid_credentials');
    }
    // Second factor, when enrolled: a missing code is asked for; a wrong or replayed one counts as a failed login.
    const factor = await getTotpState(pool, found.id);
    if (factor.sealedSecret) {
      if (!totp) throw new Clawd402Error('totp_required');
      const step = secrets ? acceptTotp(secrets.open(factor.sealedSecret, found.id), totp, factor.lastStep) : null;
      if (step === null || !(await consumeTotpStep(pool, found.id, step))) {
        const blocked = await withTransaction(pool, (c) =>
          recordLoginFailure(c, { ip, reason: 'wrong totp', subject: username }),
        );
        logEvent(log, 'auth.totp_failed', { ip, userId: found.id, blocked });
        if (blocked) logEvent(log, 'auth.ip_blocked', { ip, reason: 'wrong totp' });
        throw new Clawd402Error(blocked ? 'ip_blocked' : 'invalid_credentials');
      }
    }
    const opened = await withTransaction(pool, async (client) => {
      const result = await openSession(client, {
        userId: found.id,
        ip,
        userAgent: input.userAgent,
        absoluteSeconds: settings.absoluteSeconds,
        refreshSeconds: settings.refreshSeconds,
      });
      await appendAudit(client, {
        actor: `user:${found.id}`,
        action: 'auth.login',
        subject: `session:${result.session.id}`,
        data: { ip: await sealPersonal(client, `user:${found.id}`, 'ip', ip), evicted: result.evicted },
      });
      return result;
    });
    const access = await tokens.issueUserToken(found.id, found.role, opened.session.id);
    logEvent(log, 'auth.login_succeeded', { ip, userId: found.id, sessionId: opened.session.id });
    return { sessionId: opened.session.id, access, refreshToken: opened.refreshToken };
  }

  /** The session a refresh token belongs to, without using the token (to check the console's CSRF token first). */
  sessionOfRefreshToken(token: string): Promise<string | null> {
    return sessionIdOfRefreshToken(this.deps.pool, token);
  }

  /** Use a refresh token once. A reused one ends its session and raises a critical alert; either way it is refused. */
  async refresh(presented: string, ip: string, log: Logger): Promise<IssuedSession> {
    const { pool, tokens, settings } = this.deps;
    const outcome = await withTransaction(pool, async (client) => {
      const result = await rotateRefreshToken(client, presented, settings.refreshSeconds);
      if (result.kind === 'reused') {
        await appendAudit(client, {
          actor: `user:${result.userId}`,
          action: 'auth.refresh_reused',
          subject: `session:${result.sessionId}`,
          data: { ip: await sealPersonal(client, `user:${result.userId}`, 'ip', ip), revoked: 'session' },
        });
        await raiseAlert(client, {
          kind: 'refresh_token_reused',
          severity: 'critical',
          subject: `session:${result.sessionId}`,
          summary: `A refresh token of user ${result.userId} was used twice (from ${ip}): the session is revoked`,
          detail: { userId: result.userId, sessionId: result.sessionId, ip },
        });
      }
      return result;
    });
    if (outcome.kind === 'reused')
      logEvent(log, 'auth.refresh_token_reused', { ip, userId: outcome.userId, sessionId: outcome.sessionId });
    if (outcome.kind !== 'rotated') {
      if (outcome.kind !== 'reused') logEvent(log, 'auth.refresh_refused', { ip, outcome: outcome.kind });
      throw new Clawd402Error('invalid_refresh_token');
    }
    const account = await findUser(pool, outcome.userId);
    if (!account || account.disabled) throw new Clawd402Error('invalid_refresh_token');
    const access = await tokens.issueUserToken(account.id, account.role, outcome.sessionId);
    return { sessionId: outcome.sessionId, access, refreshToken: outcome.refreshToken };
  }

  /** Start TOTP enrolment: a fresh secret, pending until confirmed with a code (a half-finished one never locks out). */
  async enrollTotp(user: UserPrincipal): Promise<{ secret: string; uri: string }> {
    const secrets = this.secrets();
    const account = (await findUser(this.deps.pool, user.userId))!;
    const fresh = newTotpSecret(account.username, this.deps.settings.issuer);
    await setPendingTotp(this.deps.pool, user.userId, secrets.seal(fresh.secret, user.userId));
    return fresh;
  }

  async confirmTotp(user: UserPrincipal, code: string): Promise<void> {
    const secrets = this.secrets();
    const state = await getTotpState(this.deps.pool, user.userId);
    if (!state.sealedPending)
      throw new Clawd402Error('not_found', 'No TOTP enrolment is pending; start with POST /auth/totp/enroll.');
    const step = acceptTotp(secrets.open(state.sealedPending, user.userId), code, null);
    if (step === null) throw new Clawd402Error('invalid_totp_code');
    await auditedChange(
      this.deps.pool,
      (client) => activateTotp(client, user.userId, step),
      () => ({ actor: `user:${user.userId}`, action: 'auth.totp_enabled', subject: `user:${user.userId}`, data: {} }),
    );
  }

  async logout(user: UserPrincipal): Promise<void> {
    await revokeSession(this.deps.pool, user.sessionId, 'logout');
  }

  list(userId: string): Promise<SessionRecord[]> {
    return listActiveSessions(this.deps.pool, userId);
  }

  /** End one of the user's own active sessions, or `not_found`. */
  async end(userId: string, sessionId: string): Promise<void> {
    const mine = (await listActiveSessions(this.deps.pool, userId)).some((s) => s.id === sessionId);
    if (!mine) throw new Clawd402Error('not_found', 'No such session.');
    await revokeSession(this.deps.pool, sessionId, 'ended_by_user');
  }

  async endAll(userId: string): Promise<void> {
    await revokeUserSessions(this.deps.pool, userId, 'ended_by_user');
  }

  /** A new password ends every session of the user (this one included), audited. */
  async changePassword(user: UserPrincipal, current: string, next: string): Promise<void> {
    const { pool } = this.deps;
    const account = await findUser(pool, user.userId);
    if (!account || !(await verifySecret(account.passwordHash, current)))
      throw new Clawd402Error('invalid_credentials');
    assertStrongPassword(next);
    const hash = await argon2.hash(next, ARGON2_OPTIONS);
    await auditedChange(
      pool,
      async (client) => {
        await setPasswordHash(client, user.userId, hash);
        return revokeUserSessions(client, user.userId, 'password_changed');
      },
      (ended) => ({
        actor: `user:${user.userId}`,
        action: 'auth.password_changed',
        subject: `user:${user.userId}`,
        data: { sessionsEnded: ended },
      }),
    );
  }

  /**
   * A new access-token signing key ends every session issued under the old one (once, whichever replica boots first),
   * audited. Returns whether the key changed and how many sessions ended.
   */
  async endSessionsOnSigningKeyChange(keyId: string): Promise<{ rotated: boolean; ended: number }> {
    return withTransaction(this.deps.pool, async (client) => {
      const result = await endSessionsOnKeyRotation(client, keyId);
      if (result.rotated) {
        await appendAudit(client, {
          actor: 'system:gateway',
          action: 'auth.signing_key_rotated',
          subject: null,
          data: { kid: keyId, sessionsEnded: result.ended },
        });
      }
      return result;
    });
  }

  /**
   * Step-up for the most dangerous owner actions (the kill switch): a fresh TOTP code from the acting user, single-use
   * like a login code. A user without a second factor cannot step up (`totp_enrollment_required`); a wrong, old or
   * reused code is `invalid_totp_code`.
   */
  async stepUp(user: UserPrincipal, code: string | undefined): Promise<void> {
    const state = await getTotpState(this.deps.pool, user.userId);
    if (!state.sealedSecret) throw new Clawd402Error('totp_enrollment_required');
    if (!code) throw new Clawd402Error('totp_required');
    const step = acceptTotp(this.secrets().open(state.sealedSecret, user.userId), code, state.lastStep);
    if (step === null || !(await consumeTotpStep(this.deps.pool, user.userId, step)))
      throw new Clawd402Error('invalid_totp_code');
  }

  private secrets(): SecretBox {
    if (!this.deps.secrets) throw new Clawd402Error('totp_unavailable');
    return this.deps.secrets;
  }
}

import type pg from 'pg';
import argon2 from 'argon2';
import { Clawd402Error } from '@clawd402/protocol';
import type { UserPrincipal, UserRole } from '../domain/principal.ts';
import { ARGON2_OPTIONS } from '../lib/api-keys.ts';
import { assertMayActOn, findSubject } from './subjects.ts';
import {
  listActiveSessions,
  revokeSession,
  revokeUserSessions,
  type SessionRecord,
} from '../repositories/sessions-repository.ts';
import { auditedChange } from './audited-change.ts';
import { sealPersonal } from './personal-data-service.ts';
import {
  createUser,
  disableUser,
  findUser,
  listUsers,
  setUserRole,
  usernameExists,
  type UserRecord,
} from '../repositories/users-repository.ts';

export type { UserRecord } from '../repositories/users-repository.ts';

/** Passwords are 12 to 256 characters (NIST SP 800-63B: length, no composition rules). */
export function assertStrongPassword(password: string): void {
  if (password.length < 12 || password.length > 256) throw new Clawd402Error('weak_password');
}

/** Human users: create, change roles, disable. Every change is audited with the acting user in the same transaction. */
export class UsersService {
  constructor(private readonly deps: { pool: pg.Pool }) {}

  list(): Promise<UserRecord[]> {
    return listUsers(this.deps.pool);
  }

  /** The user with this id, or `not_found` (also for an id that is not a UUID). */
  async get(id: string): Promise<UserRecord> {
    return findSubject(id, (uuid) => findUser(this.deps.pool, uuid), 'No such user.');
  }

  async create(
    actor: UserPrincipal,
    input: { username: string; password: string; role: UserRole },
  ): Promise<UserRecord> {
    if (input.role === 'owner' && actor.role !== 'owner')
      throw new Clawd402Error('forbidden', 'Only an owner creates owners.');
    assertStrongPassword(input.password);
    const hash = await argon2.hash(input.password, ARGON2_OPTIONS);
    const id = await auditedChange(
      this.deps.pool,
      async (client) => {
        if (await usernameExists(client, input.username)) throw new Clawd402Error('username_taken');
        return createUser(client, { username: input.username, passwordHash: hash, role: input.role });
      },
      async (created, client) => ({
        actor: `user:${actor.userId}`,
        action: 'user.created',
        subject: `user:${created}`,
        data: { username: await sealPersonal(client, `user:${created}`, 'username', input.username), role: input.role },
      }),
    );
    return (await findUser(this.deps.pool, id))!;
  }

  async changeRole(actor: UserPrincipal, id: string, role: UserRole): Promise<UserRecord> {
    const subject = await this.get(id);
    assertMayActOn(actor, subject, { self: 'Nobody changes their own role.' });
    await auditedChange(
      this.deps.pool,
      async (client) => {
        await setUserRole(client, subject.id, role);
        // A new role must not ride on tokens issued for the old one.
        await revokeUserSessions(client, subject.id, 'role_changed');
      },
      () => ({
        actor: `user:${actor.userId}`,
        action: 'user.role_changed',
        subject: `user:${subject.id}`,
        data: { from: subject.role, to: role },
      }),
    );
    return (await findUser(this.deps.pool, subject.id))!;
  }

  async disable(actor: UserPrincipal, id: string): Promise<UserRecord> {
    const subject = await this.get(id);
    assertMayActOn(actor, subject, { self: 'Nobody disables themselves.', owner: 'Only an owner disables an owner.' });
    await auditedChange(
      this.deps.pool,
      async (client) => {
        await disableUser(client, subject.id, `disabled by user:${actor.userId}`);
        await revokeUserSessions(client, subject.id, 'user_disabled');
      },
      () => ({ actor: `user:${actor.userId}`, action: 'user.disabled', subject: `user:${subject.id}`, data: {} }),
    );
    return (await findUser(this.deps.pool, subject.id))!;
  }

  /** A user's active sessions, oldest first. */
  async sessions(id: string): Promise<SessionRecord[]> {
    return listActiveSessions(this.deps.pool, (await this.get(id)).id);
  }

  /**
   * End one of a user's active sessions at once (its access token fails on the next request, its refresh token is
   * spent), audited as `user.session_ended`. An owner's sessions only an owner ends, as with disabling.
   */
  async endSession(actor: UserPrincipal, id: string, sessionId: string): Promise<void> {
    const subject = await this.get(id);
    assertMayActOn(actor, subject, { owner: "Only an owner ends an owner's session." });
    const { pool } = this.deps;
    const theirs = (await listActiveSessions(pool, subject.id)).some((s) => s.id === sessionId);
    const ended =
      theirs &&
      (await auditedChange(
        pool,
        (client) => revokeSession(client, sessionId, `ended by user:${actor.userId}`),
        () => ({
          actor: `user:${actor.userId}`,
          action: 'user.session_ended',
          subject: `user:${subject.id}`,
          data: { sessionId },
        }),
      ));
    if (!ended) throw new Clawd402Error('not_found', 'No such active session.');
  }
}

import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { Clawd402Error } from '@clawd402/protocol';
import type { UserPrincipal } from '../domain/principal.ts';
import { isUuid } from '../lib/uuid.ts';
import { assertMayActOn, findSubject } from './subjects.ts';
import {
  agentExists,
  clearAgentMemos,
  destroySubject,
  pseudonymiseUser,
  readPersonalData,
  storePersonalData,
  subjectKey,
} from '../repositories/personal-data-repository.ts';
import { findUser } from '../repositories/users-repository.ts';
import { SecretBox } from '../security/secret-box.ts';
import { auditedChange } from './audited-change.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** What an audit record holds in place of a personal value (docs/privacy.md). */
export interface PersonalRef {
  pd: string;
}

export type PersonalField = 'ip' | 'user_agent' | 'username';

/**
 * Seal `value` under the subject's own key, beside the audit chain, inside the caller's transaction; returns the ref
 * the audit record holds instead of the value. Erasing the subject destroys the key, so the value is unreadable
 * while the record, and its hash, stay as they were.
 */
export async function sealPersonal(
  db: Queryable,
  subject: `user:${string}`,
  field: PersonalField,
  value: string,
): Promise<PersonalRef> {
  const ref = randomUUID();
  const sealed = new SecretBox(await subjectKey(db, subject)).seal(value, `${subject}:${field}:${ref}`);
  await storePersonalData(db, { ref, subject, field, sealed });
  return { pd: ref };
}

/** Personal data and its erasure for operators (routes/admin/users.ts, routes/admin/agents.ts; docs/privacy.md). */
export class PersonalDataService {
  constructor(private readonly deps: { pool: pg.Pool }) {}

  /** The readable values behind refs (absent once erased). For the audit view and subject-access requests. */
  async reveal(refs: readonly string[]): Promise<Map<string, { field: string; value: string }>> {
    const rows = await readPersonalData(this.deps.pool, refs.filter(isUuid));
    return new Map(
      rows.map((r) => [
        r.ref,
        { field: r.field, value: new SecretBox(r.key).open(r.sealed, `${r.subject}:${r.field}:${r.ref}`) },
      ]),
    );
  }

  /**
   * Erase a user's personal data: destroy their key and sealed values (audit records keep unreadable refs and still
   * verify), pseudonymise their name, end their sessions and clear addresses and user agents outside the chain.
   * The account is disabled for good. Audited without personal data. Not oneself; an owner only by an owner.
   */
  async eraseUser(actor: UserPrincipal, id: string): Promise<Record<string, number>> {
    const user = await findSubject(id, (uuid) => findUser(this.deps.pool, uuid), 'No such user.');
    assertMayActOn(actor, user, {
      self: 'Nobody erases themselves.',
      owner: "Only an owner erases an owner's personal data.",
    });
    return auditedChange(
      this.deps.pool,
      async (client) => {
        const destroyed = await destroySubject(client, `user:${user.id}`);
        const changed = await pseudonymiseUser(client, user.id);
        return { sealedValues: destroyed.values, ...changed };
      },
      (counts) => ({
        actor: `user:${actor.userId}`,
        action: 'user.personal_data_erased',
        subject: `user:${user.id}`,
        data: counts,
      }),
    );
  }

  /** Clear the memo text of every intent of an agent (memos may hold anything an agent was told). Audited. */
  async eraseAgentMemos(actor: UserPrincipal, id: string): Promise<{ memos: number }> {
    if (!isUuid(id) || !(await agentExists(this.deps.pool, id))) throw new Clawd402Error('not_found', 'No such agent.');
    return auditedChange(
      this.deps.pool,
      async (client) => ({ memos: await clearAgentMemos(client, id) }),
      (erased) => ({
        actor: `user:${actor.userId}`,
        action: 'agent.memos_erased',
        subject: `agent:${id}`,
        data: erased,
      }),
    );
  }
}

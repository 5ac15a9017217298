import { Clawd402Error } from '@clawd402/protocol';
import type { UserPrincipal, UserRole } from '../domain/principal.ts';
import { isUuid } from '../lib/uuid.ts';

/**
 * The record a request names by id, or `not_found` with `message` — also for an id that is not a UUID, which is never
 * looked up (a `uuid` column would throw on it).
 */
export async function findSubject<T>(id: string, find: (id: string) => Promise<T | null>, message: string): Promise<T> {
  const found = isUuid(id) ? await find(id) : null;
  if (!found) throw new Clawd402Error('not_found', message);
  return found;
}

/**
 * Whether `actor` may change `user`'s account: `forbidden`, with the message given, when it is the actor's own
 * (`self`) or an owner's and the actor is not an owner (`owner`). Each check applies when its message is given.
 */
export function assertMayActOn(
  actor: UserPrincipal,
  user: { id: string; role: UserRole },
  refusals: { self?: string; owner?: string },
): void {
  if (refusals.self !== undefined && user.id === actor.userId) throw new Clawd402Error('forbidden', refusals.self);
  if (refusals.owner !== undefined && user.role === 'owner' && actor.role !== 'owner')
    throw new Clawd402Error('forbidden', refusals.owner);
}

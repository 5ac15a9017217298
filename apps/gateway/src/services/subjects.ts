import { Clawd402Error } from '@clawd402/protocol';
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

import Type from 'typebox';
import type { ConditionTest } from '../condition.ts';
import type { AvailableFacts } from '../facts.ts';

/** Most items a list of ids or names may hold. */
export const MAX_ID_LIST_ITEMS = 10_000;

const Id = Type.String({ minLength: 1, maxLength: 200 });

/** One id / name, or a non-empty list of them. */
export const IdOrListSchema = Type.Union([Id, Type.Array(Id, { minItems: 1, maxItems: MAX_ID_LIST_ITEMS })]);

/** A string or list of strings → a Set, compared exactly. */
export function stringSet(value: string | readonly string[]): ReadonlySet<string> {
  return new Set(typeof value === 'string' ? [value] : value);
}

/**
 * The test of a condition whose value is an id or a list of them: holds when the string `read` takes from the facts
 * is one of them (exactly), cannot tell when the facts hold no string there.
 */
export function memberOf(value: string | readonly string[], read: (facts: AvailableFacts) => unknown): ConditionTest {
  const members = stringSet(value);
  return (facts) => {
    const member = read(facts);
    if (typeof member !== 'string') return 'unknown';
    return members.has(member);
  };
}

import Type from 'typebox';

/** Most items a list of ids or names may hold. */
export const MAX_ID_LIST_ITEMS = 10_000;

const Id = Type.String({ minLength: 1, maxLength: 200 });

/** One id / name, or a non-empty list of them. */
export const IdOrListSchema = Type.Union([Id, Type.Array(Id, { minItems: 1, maxItems: MAX_ID_LIST_ITEMS })]);

/** A string or list of strings → a Set, compared exactly. */
export function stringSet(value: string | readonly string[]): ReadonlySet<string> {
  return new Set(typeof value === 'string' ? [value] : value);
}

import Type, { type TSchema } from 'typebox';
import { Nullable } from './schemas.ts';

// List routes: their query (page size, keyset position, the filters given) and their replies (whole list, keyset page).

/** `?limit=` on a list: 1 to 100 (query strings are text; the handler turns it into a number). */
export const PageLimit = Type.String({ pattern: '^(?:[1-9][0-9]?|100)$' });

/** `?before=` on a keyset-paged list: the id of the last item of the previous page (a positive bigint as text). */
export const BeforeId = Type.String({ pattern: '^[1-9][0-9]{0,17}$' });

/** `?before=` and `?limit=` of a keyset-paged list: properties to spread into its querystring schema. */
export const KeysetQuery = { before: Type.Optional(BeforeId), limit: Type.Optional(PageLimit) };

/** `?limit=` as a number, or the list's own default when the query has none. */
export const limitOr = (limit: string | undefined, fallback: number): number => (limit ? Number(limit) : fallback);

/** The filters a list's query gave (non-empty), under the same names: spread them into the list call. */
export function givenFilters<Q extends object, K extends keyof Q>(query: Q, names: readonly K[]): Partial<Pick<Q, K>> {
  const given: Partial<Pick<Q, K>> = {};
  for (const name of names) if (query[name]) given[name] = query[name];
  return given;
}

/** A whole list's reply (no paging): `{ items }`. */
export const ItemList = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item) });

/** A keyset page's reply: `items` and `nextBefore` (the id to pass as `?before=` for the next page, or null). */
export const KeysetPage = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextBefore: Nullable(Type.String()) }, { additionalProperties: false });

/** Shapes a keyset page: a full page (`limit` items) may have more after it, so it names its last id. */
export function keysetPage<R extends { id: string }, V>(
  rows: readonly R[],
  limit: number,
  view: (row: R) => V,
): { items: V[]; nextBefore: string | null } {
  const last = rows[rows.length - 1];
  return { items: rows.map(view), nextBefore: rows.length === limit && last ? last.id : null };
}

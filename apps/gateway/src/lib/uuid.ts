/** A lowercase, hyphenated UUID (what Postgres' `uuid` type answers), unanchored, for composing schema patterns. */
export const UUID_PATTERN = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

const UUID = new RegExp(`^${UUID_PATTERN}$`);

/** True for a lowercase, hyphenated UUID: ids are checked before they reach a `uuid` column (which would throw). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

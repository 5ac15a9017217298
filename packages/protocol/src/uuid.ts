/**
 * A UUID as this project writes it: lower-case hex in the 8-4-4-4-12 form (Postgres `uuid` and `randomUUID()` both
 * print it so). `UUID_PATTERN` is the bare pattern for JSON schemas and route constraints; `UUID` and `isUuid` match a
 * whole string.
 */
export const UUID_PATTERN = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
export const UUID = new RegExp(`^${UUID_PATTERN}$`);

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

import pg from 'pg';
import { classifiedWrite } from './errors.ts';

export { isDatabaseUnavailable } from './errors.ts';

// numeric and bigint columns come back as strings; repositories convert them with BigInt, never Number.
export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection must not crash the process; queries on it fail and are mapped to 503.
  pool.on('error', () => {});
  // So must a checked-out client losing it between two queries (a transaction waiting on the signer when Postgres
  // stops): pg emits that as an 'error' event on the client, an uncaught exception without a listener. The next
  // query on it fails and is classified like any other (tested by postgres-outage.int.test.ts).
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** One round trip: start-up without migrations still fails at boot on an unreachable database. */
export async function pingDatabase(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT 1');
}

/**
 * Run `fn` in a transaction on one client; rolls back on any error and rethrows it. The only work deferred to COMMIT
 * is chaining the transaction's audit records, so a failed COMMIT is classified like any audited write: nothing the
 * transaction described happened.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await classifiedWrite(() => client.query('COMMIT'));
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/**
 * A named prepared statement for `text`: Postgres parses and plans it once per connection instead of on every call
 * (the hot-path statements are long CTEs). The name is derived from the text, so the same text always reuses it.
 */
export function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return { name: `c402_${hash.toString(36)}_${text.length}`, text, values };
}

/**
 * A batch statement's rows as one `json` parameter, read with {@link jsonRowsSql}. One document instead of one
 * Postgres array per column: node-postgres escapes every element of a text array in JavaScript (two regex replaces
 * per string, then a concatenation), which for the batches' JSON columns and audit records was the largest thing the
 * gateway allocated per intent; `JSON.stringify` escapes once, natively, and nested objects go in as they are. Each
 * row's keys are the column names; bigint values must already be strings (JSON has no 64-bit integers).
 */
export function jsonRows(rows: readonly Record<string, unknown>[]): string {
  return JSON.stringify(rows);
}

/**
 * `ROWS FROM (json_to_recordset($n::json) AS (…)) WITH ORDINALITY AS alias(…, ord)`: the rows of a {@link jsonRows}
 * parameter with their types, in the order given (`ord` counts from 1). A key missing from a row reads as NULL.
 */
export function jsonRowsSql(param: number, alias: string, columns: Readonly<Record<string, string>>): string {
  const names = Object.keys(columns);
  const typed = names.map((name) => `${name} ${columns[name]}`).join(', ');
  return `ROWS FROM (json_to_recordset($${param}::json) AS (${typed})) WITH ORDINALITY AS ${alias}(${names.join(', ')}, ord)`;
}

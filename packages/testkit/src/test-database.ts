import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Server the tests use when TEST_DATABASE_URL is unset: the local Postgres every project machine and CI run. */
const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** Every database createTestDatabase makes starts with this; nothing else is ever dropped. */
const NAME_PREFIX = 'clawd402_t_';
/** Databases of this prefix older than this were left by crashed runs and are dropped on the next create. */
const STALE_AFTER_MS = 24 * 60 * 60 * 1000;

/** A throwaway database made by {@link createTestDatabase}. */
export interface TestDatabase {
  /** Connection URL of the new database (same server, user and options as the admin URL). */
  readonly url: string;
  /** The database name, `clawd402_t_<time>_<random>`. */
  readonly name: string;
  /** Terminates the database's connections and drops it. Safe to call more than once. */
  drop(): Promise<void>;
}

/**
 * The admin connection URL: `process.env.TEST_DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/test`.
 * The role needs CREATEDB. Integration tests use this real server, never a mock.
 */
export function testDatabaseAdminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;
}

/** The URL with any password replaced, for error messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable database URL>';
  }
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

async function withAdminClient<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message || (cause as NodeJS.ErrnoException).code : String(cause);
    throw new Error(
      `cannot connect to the test Postgres at ${redact(adminUrl)} (${reason}); start it (bash .ci/run does) ` +
        'or set TEST_DATABASE_URL',
      { cause },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function dropDatabase(client: pg.Client, name: string): Promise<void> {
  await client.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [name],
  );
  const version = Number(
    (await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v,
  );
  // WITH (FORCE) (Postgres 13+) also ends connections that raced in after the terminate above.
  await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${version >= 130_000 ? ' WITH (FORCE)' : ''}`);
}

/** Best effort: drop databases of our prefix that a crashed run left behind more than a day ago. */
async function dropStale(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
    [NAME_PREFIX],
  );
  for (const { datname } of rows) {
    const created = Number.parseInt(datname.slice(NAME_PREFIX.length).split('_')[0] ?? '', 36);
    if (Number.isFinite(created) && Date.now() - created > STALE_AFTER_MS) {
      await dropDatabase(client, datname).catch(() => {});
    }
  }
}

/**
 * Creates a fresh, empty, uniquely named database (from template0) on the test Postgres server
 * ({@link testDatabaseAdminUrl}, or the server `adminUrl` names, e.g. a private cluster's) and returns its URL. Safe to call from parallel test processes.
 * Databases of earlier runs that were never dropped are removed after a day.
 *
 * @throws Error naming the server (password redacted) when it cannot be reached.
 * @example
 * ```ts
 * const db = await createTestDatabase();
 * after(() => db.drop());
 * const pool = new pg.Pool({ connectionString: db.url });
 * ```
 */
export async function createTestDatabase(adminUrl: string = testDatabaseAdminUrl()): Promise<TestDatabase> {
  const name = `${NAME_PREFIX}${Date.now().toString(36)}_${randomBytes(6).toString('hex')}`;
  await withAdminClient(adminUrl, async (client) => {
    await dropStale(client).catch(() => {});
    await client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8'`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  return Object.freeze({
    url: url.toString(),
    name,
    drop: () => (dropping ??= withAdminClient(adminUrl, (client) => dropDatabase(client, name))),
  });
}

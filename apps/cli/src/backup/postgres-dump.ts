/**
 * A consistent dump of the gateway's database with `pg` and COPY, no pg_dump: every table of the `public` schema is
 * copied inside ONE `REPEATABLE READ READ ONLY` transaction, so all tables are read at the same snapshot while the
 * gateway keeps writing. Each table becomes `tables/<name>.copy` (COPY text format, rows ordered by primary key, in a
 * session pinned to UTC/ISO so the bytes are reproducible); its row count and sha256 go into the database manifest.
 * The schema itself is not dumped: it is the migrations, whose names and checksums are recorded and must match the
 * build that restores (see postgres-restore.ts).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { CliError } from '../cli-error.ts';
import { discard } from './age-files.ts';

export interface TableEntry {
  name: string;
  columns: string[];
  rows: number;
  sha256: string;
}

export interface SequenceEntry {
  name: string;
  lastValue: string;
  isCalled: boolean;
}

export interface DatabaseManifest {
  format: 'clawd402-pg-copy-1';
  serverVersion: string;
  /** `schema_migrations` at the snapshot: what the restoring build must have, name for name and checksum for checksum. */
  migrations: { name: string; checksum: string }[];
  /** Load order: a table comes after every table it references. */
  tables: TableEntry[];
  sequences: SequenceEntry[];
  audit: { rows: number; headHash: string | null };
}

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Pin the text forms COPY prints, so a dump and a re-read of the restored copy hash the same. */
export async function pinSession(client: pg.Client): Promise<void> {
  await client.query(
    "SET TIME ZONE 'UTC'; SET datestyle = 'ISO, YMD'; SET intervalstyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'",
  );
}

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (cause) {
    // The URL may hold a password: name the failure, never the URL.
    throw new CliError(
      'database_unavailable',
      `the database cannot be reached (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`,
      { cause },
    );
  }
  await pinSession(client);
  return client;
}

interface TableInfo {
  name: string;
  columns: string[];
  orderBy: string[];
}

/** Tables of `public` with their columns and primary key, in foreign-key order (referenced tables first). */
export async function listTables(client: pg.Client): Promise<TableInfo[]> {
  const { rows: tables } = await client.query<{ name: string; columns: string[]; pk: string[] | null }>(`
    SELECT c.relname AS name,
           array(SELECT a.attname FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                  ORDER BY a.attnum)::text[] AS columns,
           (SELECT array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord)::text[]
              FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
     ORDER BY c.relname`);
  const { rows: edges } = await client.query<{ child: string; parent: string }>(`
    SELECT DISTINCT c.relname AS child, p.relname AS parent
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
      JOIN pg_class p ON p.oid = k.confrelid
     WHERE k.contype = 'f' AND cn.nspname = 'public' AND k.conrelid <> k.confrelid`);
  const parents = new Map<string, Set<string>>(tables.map((t) => [t.name, new Set()]));
  for (const e of edges) parents.get(e.child)?.add(e.parent);
  const ordered: TableInfo[] = [];
  const placed = new Set<string>();
  const byName = new Map(tables.map((t) => [t.name, t]));
  while (placed.size < tables.length) {
    const ready = tables.filter(
      (t) => !placed.has(t.name) && [...parents.get(t.name)!].every((p) => placed.has(p) || !byName.has(p)),
    );
    if (ready.length === 0) throw new Error('foreign keys form a cycle between tables');
    for (const t of ready) {
      placed.add(t.name);
      ordered.push({ name: t.name, columns: t.columns, orderBy: t.pk && t.pk.length > 0 ? t.pk : t.columns });
    }
  }
  return ordered;
}

/** COPY one table (ordered, the given columns) into `sink`, counting rows and hashing the bytes on the way. */
export async function copyTableOut(
  client: pg.Client,
  table: { name: string; columns: string[]; orderBy: string[] },
  sink: Writable,
): Promise<{ rows: number; sha256: string }> {
  const cols = table.columns.map(quoteIdent).join(', ');
  const order = table.orderBy.map(quoteIdent).join(', ');
  const hash = createHash('sha256');
  let rows = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      // COPY text format escapes newlines inside values, so every row is exactly one line.
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows += 1;
      cb(null, chunk);
    },
  });
  await pipeline(
    client.query(copyTo(`COPY (SELECT ${cols} FROM ${quoteIdent(table.name)} ORDER BY ${order}) TO STDOUT`)),
    meter,
    sink,
  );
  return { rows, sha256: hash.digest('hex') };
}

export async function readSequences(client: pg.Client): Promise<SequenceEntry[]> {
  const { rows } = await client.query<{ name: string }>(
    "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'S' ORDER BY 1",
  );
  const out: SequenceEntry[] = [];
  for (const { name } of rows) {
    const {
      rows: [s],
    } = await client.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text, is_called FROM ${quoteIdent(name)}`,
    );
    out.push({ name, lastValue: s!.last_value, isCalled: s!.is_called });
  }
  return out;
}

/** Dump every table into `dir/tables/` at one snapshot and return the database manifest. */
export async function dumpDatabase(url: string, dir: string): Promise<DatabaseManifest> {
  const client = await connect(url);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const tables = await listTables(client);
    if (!tables.some((t) => t.name === 'schema_migrations') || !tables.some((t) => t.name === 'audit_log')) {
      throw new CliError(
        'restore_schema_mismatch',
        'the database has no gateway schema (schema_migrations, audit_log)',
      );
    }
    const {
      rows: [version],
    } = await client.query<{ v: string }>('SHOW server_version');
    const { rows: migrations } = await client.query<{ name: string; checksum: string }>(
      'SELECT name, checksum FROM schema_migrations ORDER BY name',
    );
    const entries: TableEntry[] = [];
    for (const table of tables) {
      const sink = createWriteStream(join(dir, `${table.name}.copy`), { mode: 0o600 });
      const { rows, sha256 } = await copyTableOut(client, table, sink);
      entries.push({ name: table.name, columns: table.columns, rows, sha256 });
    }
    const {
      rows: [audit],
    } = await client.query<{ rows: string; head: string | null }>(
      'SELECT count(*)::text AS rows, (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1) AS head FROM audit_log',
    );
    // Sequences are not transactional: read after the tables, they are at or past every value the snapshot used.
    const sequences = await readSequences(client);
    await client.query('COMMIT');
    return {
      format: 'clawd402-pg-copy-1',
      serverVersion: version!.v,
      migrations,
      tables: entries,
      sequences,
      audit: { rows: Number(audit!.rows), headHash: audit!.head },
    };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Re-read every table of a database the way {@link dumpDatabase} does, without writing: counts and hashes. */
export async function fingerprintDatabase(client: pg.Client): Promise<Map<string, { rows: number; sha256: string }>> {
  const out = new Map<string, { rows: number; sha256: string }>();
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    for (const table of await listTables(client)) out.set(table.name, await copyTableOut(client, table, discard()));
  } finally {
    await client.query('COMMIT');
  }
  return out;
}

/**
 * Restore a dump made by postgres-dump.ts into an EMPTY database, all or nothing: one transaction applies the
 * migrations the backup was made under (this build's files, which must match the backup's names and checksums),
 * removes the rows migrations seed, COPYs every table in foreign-key order (schema_migrations included, so its rows
 * are the original ones), and sets every sequence. Nothing is committed unless all of it worked.
 *
 * The append-only audit_log refuses UPDATE, DELETE and TRUNCATE by trigger; COPY only inserts, so the original rows
 * and their hashes go in unchanged and the chain verifies as it did.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import pg from 'pg';
import { verifyAuditChain } from '@clawd402/gateway/audit-repository';
import { CliError } from '../cli-error.ts';
import { connect, fingerprintDatabase, quoteIdent, type DatabaseManifest } from './postgres-dump.ts';

/** The repository's migrations/ (numbered raw SQL), the same files the gateway applies at start. */
export const MIGRATIONS_DIR = new URL('../../../../migrations/', import.meta.url).pathname;

export function readMigrations(dir = MIGRATIONS_DIR): { name: string; checksum: string; sql: string }[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name), 'utf8');
      return { name, checksum: createHash('sha256').update(sql).digest('hex'), sql };
    });
}

/** Refuse unless the database has no table, view, sequence or function of its own in `public`. */
export async function assertEmptyDatabase(client: pg.Client): Promise<void> {
  const {
    rows: [r],
  } = await client.query<{ n: string }>(`
    SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public')
         + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public') AS n`);
  if (Number(r!.n) !== 0)
    throw new CliError(
      'restore_target_not_empty',
      'the target database is not empty (it has objects in schema public)',
    );
}

/** Refuse unless this build's migrations are exactly the backup's. */
export function assertSameMigrations(
  manifest: DatabaseManifest,
  dir = MIGRATIONS_DIR,
): ReturnType<typeof readMigrations> {
  const ours = readMigrations(dir);
  const theirs = manifest.migrations;
  const same =
    ours.length === theirs.length &&
    ours.every((m, i) => m.name === theirs[i]!.name && m.checksum === theirs[i]!.checksum);
  if (!same) {
    throw new CliError(
      'restore_schema_mismatch',
      'the backup was made under other migrations than this build has: restore with the release that made it',
      {
        detail: { backup: theirs.map((m) => m.name).at(-1) ?? null, build: ours.map((m) => m.name).at(-1) ?? null },
      },
    );
  }
  return ours;
}

export async function restoreDatabase(
  url: string,
  tablesDir: string,
  manifest: DatabaseManifest,
  migrationsDir = MIGRATIONS_DIR,
): Promise<void> {
  const migrations = assertSameMigrations(manifest, migrationsDir);
  const client = await connect(url);
  try {
    await assertEmptyDatabase(client);
    await client.query('BEGIN');
    try {
      await client.query(`CREATE TABLE schema_migrations (
        name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const m of migrations) await client.query(m.sql);
      // Rows seeded by migrations (e.g. the global spend scope) come back from the dump instead; children first.
      for (const table of [...manifest.tables].reverse()) {
        const {
          rows: [r],
        } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdent(table.name)}`);
        if (Number(r!.n) > 0) await client.query(`DELETE FROM ${quoteIdent(table.name)}`);
      }
      for (const table of manifest.tables) {
        const cols = table.columns.map(quoteIdent).join(', ');
        await pipeline(
          createReadStream(join(tablesDir, `${table.name}.copy`)),
          client.query(copyFrom(`COPY ${quoteIdent(table.name)} (${cols}) FROM STDIN`)),
        );
      }
      for (const s of manifest.sequences) {
        await client.query('SELECT setval($1::regclass, $2::bigint, $3)', [
          quoteIdent(s.name),
          s.lastValue,
          s.isCalled,
        ]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      if (error instanceof CliError) throw error;
      throw new CliError(
        'restore_integrity_failed',
        `the data could not be loaded; nothing was committed (${(error as Error).message})`,
        { cause: error },
      );
    }
  } finally {
    await client.end().catch(() => {});
  }
}

export interface DatabaseCheck {
  tables: { name: string; rows: number; expected: number; sameContent: boolean }[];
  audit: {
    ok: boolean;
    rows: number;
    headHash: string;
    expectedHeadHash: string | null;
    firstBroken: { seq: number; reason: string } | null;
  };
  ok: boolean;
}

/**
 * Check a restored database against the backup's manifest: every table's row count and content hash, sequences at
 * or past their recorded values, and the audit hash chain walked end to end to the recorded head.
 */
export async function checkDatabase(url: string, manifest: DatabaseManifest): Promise<DatabaseCheck> {
  const client = await connect(url);
  let fingerprints: Awaited<ReturnType<typeof fingerprintDatabase>>;
  try {
    fingerprints = await fingerprintDatabase(client);
  } finally {
    await client.end().catch(() => {});
  }
  const tables = manifest.tables.map((t) => {
    const found = fingerprints.get(t.name);
    return { name: t.name, rows: found?.rows ?? -1, expected: t.rows, sameContent: found?.sha256 === t.sha256 };
  });
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => {});
  let chain: Awaited<ReturnType<typeof verifyAuditChain>>;
  try {
    chain = await verifyAuditChain(pool);
  } finally {
    await pool.end();
  }
  const expectedHead = manifest.audit.headHash;
  const audit = {
    ok:
      chain.ok &&
      chain.rows === manifest.audit.rows &&
      (expectedHead === null ? chain.rows === 0 : chain.headHash === expectedHead),
    rows: chain.rows,
    headHash: chain.headHash,
    expectedHeadHash: expectedHead,
    firstBroken: chain.firstBroken,
  };
  const extra = [...fingerprints.keys()].filter((name) => !manifest.tables.some((t) => t.name === name));
  return {
    tables,
    audit,
    ok: audit.ok && extra.length === 0 && tables.every((t) => t.rows === t.expected && t.sameContent),
  };
}

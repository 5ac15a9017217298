/**
 * `pnpm audit:verify`: walk the audit hash chain and name the first broken row. Exit 0 when the chain verifies,
 * 1 when a row is broken, 2 when the database cannot be read. Reads DATABASE_URL (or DATABASE_URL_FILE); with
 * neither, the embedded PGlite under .clawd402/ (stop the gateway first: PGlite has a single writer).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPool } from '../db/pool.ts';
import { verifyAuditChain } from '../repositories/audit-repository.ts';

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const fileUrl = process.env.DATABASE_URL_FILE ? readFileSync(process.env.DATABASE_URL_FILE, 'utf8').trim() : undefined;
  const url = fileUrl ?? process.env.DATABASE_URL;
  if (url) return fn(url);
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const state = join(new URL('../../../../', import.meta.url).pathname, '.clawd402/pg/data');
  const db = await PGlite.create({ dataDir: state });
  const dir = mkdtempSync(join(tmpdir(), 'clawd402-verify-'));
  const server = new PGLiteSocketServer({ db, path: join(dir, '.s.PGSQL.5432'), maxConnections: 4 });
  await server.start();
  try {
    return await fn(`postgres://postgres@localhost/postgres?host=${encodeURIComponent(dir)}`);
  } finally {
    await server.stop();
    await db.close();
  }
}

const code = await withDatabase(async (url) => {
  const pool = createPool(url, 1);
  try {
    const result = await verifyAuditChain(pool);
    if (result.ok) {
      console.log(`audit log verified: ${result.rows} rows, head ${result.headHash}`);
      return 0;
    }
    console.log(`audit log BROKEN at seq ${result.firstBroken!.seq}: ${result.firstBroken!.reason} (${result.rows} rows verified before it)`);
    return 1;
  } finally {
    await pool.end();
  }
}).catch((error: unknown) => {
  console.error(`audit:verify: cannot read the audit log: ${(error as Error).message}`);
  return 2;
});
process.exit(code);

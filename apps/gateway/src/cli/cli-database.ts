import { join } from 'node:path';
import { databaseUrlFrom } from '../config.ts';

/** The repository root (for the embedded state under .clawd402/). */
export const REPO_ROOT = new URL('../../../../', import.meta.url).pathname;

/**
 * Run `fn` with a database URL: DATABASE_URL_FILE or DATABASE_URL, else the embedded PGlite under .clawd402/ served
 * on a temporary socket (stop the gateway first: PGlite has a single writer).
 */
export async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const url = databaseUrlFrom(process.env);
  if (url) return fn(url);
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const state = join(REPO_ROOT, '.clawd402/pg/data');
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

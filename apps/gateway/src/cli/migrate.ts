/**
 * `clawd402 migrate` (the image's `migrate` command; `pnpm --filter @clawd402/gateway migrate` from a checkout): apply
 * pending migrations under the advisory lock, print one JSON line naming what ran, and exit. A release step that runs
 * before gateways start with MIGRATE_ON_START=false. Reads DATABASE_URL_FILE (or DATABASE_URL outside production).
 * Exit 0 when the schema is current, 1 when a migration fails, 78 on a configuration error.
 */
import { readFileSync } from 'node:fs';
import { createPool } from '../db/pool.ts';
import { migrate } from '../db/migrate.ts';

function databaseUrl(): string | null {
  const file = process.env.DATABASE_URL_FILE;
  if (file) return readFileSync(file, 'utf8').trim();
  return process.env.DATABASE_URL ?? null;
}

let url: string | null;
try {
  url = databaseUrl();
} catch (error) {
  console.error(`migrate: cannot read DATABASE_URL_FILE (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  process.exit(78);
}
if (!url) {
  console.error('migrate: DATABASE_URL_FILE (or DATABASE_URL) is required');
  process.exit(78);
}
const pool = createPool(url, 1);
const code = await migrate(pool)
  .then((applied) => {
    process.stdout.write(`${JSON.stringify({ event: 'migrated', applied })}\n`);
    return 0;
  })
  .catch((error: unknown) => {
    // The message names the migration file or the SQL error; never the connection string.
    console.error(`migrate: failed: ${(error as Error).message}`);
    return 1;
  })
  .finally(() => pool.end());
process.exit(code);

// Measures backup and restore of a database with 100,000 intents (plus 200,000 intent events and 100,001 audit
// records), through the same code the CLI runs. A script, not a test: `node --import tsx apps/cli/test/measure-restore.ts [intents]`.
// Prints one JSON line; docs/recovery.md quotes it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '@clawd402/testkit';
import { generateIdentity } from '../src/backup/age-files.ts';
import { DirectoryStore } from '../src/backup/backup-store.ts';
import { createBackup, restoreBackup, verifyBackup } from '../src/backup/backup-service.ts';
import { seedGatewayDatabase } from './seed.ts';

const intents = Number(process.argv[2] ?? 100_000);
const tmp = mkdtempSync(join(tmpdir(), 'c402m-'));
const source = await createTestDatabase();
const target = await createTestDatabase();
try {
  let t = Date.now();
  await seedGatewayDatabase(source.url, { intents });
  const seedMs = Date.now() - t;
  const { identity, recipient } = await generateIdentity();
  const store = new DirectoryStore(join(tmp, 'store'));
  t = Date.now();
  const created = await createBackup({ store, recipients: [recipient], databaseUrl: source.url });
  const createMs = Date.now() - t;
  t = Date.now();
  await verifyBackup({ store, id: created.id, identities: [identity] });
  const verifyMs = Date.now() - t;
  t = Date.now();
  const restored = await restoreBackup({ store, id: created.id, identities: [identity], databaseUrl: target.url });
  const restoreMs = Date.now() - t;
  console.log(
    JSON.stringify({
      intents,
      rows: created.rows,
      auditRows: restored.database?.audit.rows,
      backupBytes: created.parts.reduce((n, p) => n + p.bytes, 0),
      seedMs,
      createMs,
      createTimings: created.timingsMs,
      verifyWithIdentityMs: verifyMs,
      restoreMs,
      restoreTimings: restored.timingsMs,
      databaseOk: restored.database?.ok,
      loadavg: (await import('node:os')).loadavg().map((n) => Math.round(n * 10) / 10),
    }),
  );
} finally {
  await source.drop();
  await target.drop();
  rmSync(tmp, { recursive: true, force: true });
}

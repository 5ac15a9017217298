/**
 * `pnpm audit:checkpoint`: have the signer sign the audit chain's head (row count + head hash, stamped with the
 * signer's clock) with its checkpoint key, which keeps it in its own append-only file; a copy goes to Postgres
 * (docs/audit.md). Refuses to checkpoint a chain that does not verify since the previous checkpoint, or that is
 * shorter than it. Run it on a schedule (cron, systemd timer) until the gateway schedules it itself.
 *
 * Reads DATABASE_URL (or DATABASE_URL_FILE, or the embedded PGlite) and SIGNER_SOCKET. Exit 0 with the checkpoint
 * printed, 1 when refused, 2 when the database or the signer cannot be reached.
 */
import { SignerClient } from '@clawd402/signer-client';
import { createPool } from '../db/pool.ts';
import { AuditCheckpointError, makeAuditCheckpoint } from '../services/audit-checkpoints.ts';
import { withDatabase } from './cli-database.ts';

const socketPath = process.env.SIGNER_SOCKET;
if (!socketPath) {
  console.error('audit:checkpoint: SIGNER_SOCKET is required (the signer signs checkpoints)');
  process.exit(2);
}
const signer = new SignerClient({ socketPath, timeoutMs: 10_000 });
const code = await withDatabase(async (url) => {
  const pool = createPool(url, 1);
  try {
    const checkpoint = await makeAuditCheckpoint({ pool, signer });
    if (checkpoint === null) console.log('audit checkpoint: the audit log is empty; nothing to checkpoint');
    else console.log(`audit checkpoint: ${checkpoint.count} rows, head ${checkpoint.head}, signed ${checkpoint.at}`);
    return 0;
  } finally {
    await pool.end();
  }
}).catch((error: unknown) => {
  if (error instanceof AuditCheckpointError) {
    console.error(`audit:checkpoint refused (${error.reason}): ${error.message}`);
    return 1;
  }
  const detail =
    error instanceof Error && 'code' in error ? String((error as { code: unknown }).code) : (error as Error).message;
  console.error(`audit:checkpoint: cannot reach the database or the signer: ${detail}`);
  return 2;
});
await signer.close();
process.exit(code);

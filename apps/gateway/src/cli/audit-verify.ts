/**
 * `pnpm audit:verify`: check the audit log and its signed checkpoints, and name everything found (docs/audit.md).
 *
 * Reads DATABASE_URL (or DATABASE_URL_FILE; with neither, the embedded PGlite under .clawd402/ — stop the gateway
 * first). Checkpoints: the copies in Postgres, and the latest one kept outside it — from the signer over SIGNER_SOCKET,
 * or from AUDIT_CHECKPOINT_FILE (a copy of the signer's checkpoints.jws). AUDIT_CHECKPOINT_PUBLIC_KEY_FILE pins the
 * signer's checkpoint public key (required with AUDIT_CHECKPOINT_FILE; otherwise the signer's is used and compared).
 *
 * Exit codes: 0 verified; 2 the database cannot be read; otherwise the code of the first finding (AUDIT_FINDINGS:
 * 3 row_missing, 4 link_broken, 5 hash_mismatch, 6 column_mismatch, 7 record_malformed, 8 chain_truncated,
 * 9 checkpoint_mismatch, 10 checkpoint_invalid, 11 checkpoints_unreadable). Every finding is printed, one per line.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { CheckpointResult } from '@clawd402/protocol';
import { SignerClient } from '@clawd402/signer-client';
import { createPool } from '../db/pool.ts';
import { auditExitCode } from '../domain/audit-findings.ts';
import { verifyAudit, type CheckpointNotary } from '../services/audit-checkpoints.ts';
import { withDatabase } from './cli-database.ts';

function checkpointFileSource(path: string, publicKey: string): Pick<CheckpointNotary, 'getCheckpoint'> {
  return {
    async getCheckpoint(): Promise<CheckpointResult> {
      if (!existsSync(path)) throw Object.assign(new Error('missing'), { code: 'file_missing' });
      const lines = readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
      return { checkpoint: lines.at(-1) ?? null, publicKey };
    },
  };
}

const pinned = process.env.AUDIT_CHECKPOINT_PUBLIC_KEY_FILE
  ? readFileSync(process.env.AUDIT_CHECKPOINT_PUBLIC_KEY_FILE, 'utf8')
  : undefined;
const checkpointFile = process.env.AUDIT_CHECKPOINT_FILE;
if (checkpointFile && !pinned) {
  console.error(
    "audit:verify: AUDIT_CHECKPOINT_FILE needs AUDIT_CHECKPOINT_PUBLIC_KEY_FILE (the signer's checkpoint public key)",
  );
  process.exit(2);
}
const client = process.env.SIGNER_SOCKET
  ? new SignerClient({ socketPath: process.env.SIGNER_SOCKET, timeoutMs: 10_000 })
  : undefined;
const source = checkpointFile ? checkpointFileSource(checkpointFile, pinned!) : client;

const code = await withDatabase(async (url) => {
  const pool = createPool(url, 1);
  try {
    const result = await verifyAudit({
      pool,
      ...(source ? { signer: source } : {}),
      ...(pinned ? { pinnedPublicKey: pinned } : {}),
    });
    for (const note of result.notes) console.log(`note: ${note}`);
    const checkpoints =
      result.checkpointsChecked.length === 0
        ? 'no checkpoint'
        : `checkpoints at ${result.checkpointsChecked.join(', ')}`;
    if (result.ok) {
      console.log(`audit log verified: ${result.rows} rows, head ${result.headHash}, ${checkpoints}`);
      return 0;
    }
    const first = result.findings[0]!;
    console.log(
      `audit log BROKEN at seq ${first.seq}: ${first.kind}: ${first.detail} (${result.findings.length} finding(s), ${result.rows} rows read, ${checkpoints})`,
    );
    for (const f of result.findings) console.log(`finding ${f.kind} seq ${f.seq}: ${f.detail}`);
    return auditExitCode(result.findings);
  } finally {
    await pool.end();
  }
}).catch((error: unknown) => {
  console.error(`audit:verify: cannot read the audit log: ${(error as Error).message}`);
  return 2;
});
await client?.close();
process.exit(code);

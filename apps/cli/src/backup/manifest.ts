/**
 * `manifest.json`, the one plaintext file of a backup: what it holds (counts, the audit head, the migrations it was
 * made under) and each encrypted part's size and sha256, so `backup verify` can check a backup without the private
 * key. Full detail (every table's content hash, every key file's hash) sits inside the encrypted parts. The manifest
 * is not signed: anyone holding the recipient (public) key could forge a whole backup, so keep the sha256 that
 * `backup create` prints somewhere the storage cannot change (the runbook says where).
 */
import { CliError } from '../cli-error.ts';

export const BACKUP_FORMAT = 'clawd402-backup-1';

export interface PartEntry {
  name: string;
  contains: 'database' | 'signer';
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  id: string;
  createdAt: string;
  recipients: string[];
  parts: PartEntry[];
  database: {
    serverVersion: string;
    migrations: { name: string; checksum: string }[];
    tables: { name: string; rows: number }[];
    audit: { rows: number; headHash: string | null };
  } | null;
  signer: { keys: number; keyFiles: number; journal: { bytes: number; usedTickets: number } | null } | null;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Parse and check the shape of a manifest; anything off is `backup_manifest_invalid`. */
export function parseManifest(text: string, expectedId: string): BackupManifest {
  let m: BackupManifest;
  try {
    m = JSON.parse(text) as BackupManifest;
  } catch {
    throw new CliError('backup_manifest_invalid', 'the manifest is not JSON');
  }
  const bad = (why: string): never => {
    throw new CliError('backup_manifest_invalid', `the manifest is not valid: ${why}`);
  };
  if (m === null || typeof m !== 'object') bad('not an object');
  if (m.format !== BACKUP_FORMAT) bad(`format is not ${String(BACKUP_FORMAT)}`);
  if (m.id !== expectedId) bad('its id is not the backup it was found under');
  if (!Array.isArray(m.parts) || m.parts.length === 0) bad('no parts');
  for (const p of m.parts) {
    if (
      typeof p?.name !== 'string' ||
      !['database', 'signer'].includes(p.contains) ||
      !Number.isSafeInteger(p.bytes) ||
      !HEX64.test(p.sha256 ?? '')
    )
      bad('a part entry is malformed');
  }
  if (new Set(m.parts.map((p) => p.contains)).size !== m.parts.length) bad('a kind of part is listed twice');
  if ((m.database !== null) !== m.parts.some((p) => p.contains === 'database'))
    bad('database section and parts disagree');
  if ((m.signer !== null) !== m.parts.some((p) => p.contains === 'signer')) bad('signer section and parts disagree');
  if (m.database && (!Array.isArray(m.database.tables) || !Array.isArray(m.database.migrations)))
    bad('database section is malformed');
  return m;
}

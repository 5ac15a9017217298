/**
 * The signer's state: its key directory (keys.json, keystores/, hd/ — the keys themselves, encrypted at rest under
 * the signer's password file, which is NOT backed up here and must be kept apart) and its journal (used tickets and
 * the rolling day's spend). Losing the first loses the funds; losing the second lets a used ticket sign again and
 * forgets today's spend against the caps.
 *
 * Copying while the signer runs is safe: keys.json is replaced atomically under a lock, keystores never change, and
 * the journal is read once as a whole: at worst its last line is torn, which the signer drops on load (nothing was
 * signed with it, as the signer writes and syncs a line before it signs).
 *
 * The signer's own loaders read both (so what is checked is what the signer will read); they are loaded only when
 * signer state is part of the command.
 */
const signerModule = () => import('@clawd402/signer');
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { CliError } from '../cli-error.ts';

export interface SignerManifest {
  keyDir: { keys: number; files: { path: string; bytes: number; sha256: string; mode: number }[] } | null;
  journal: { bytes: number; sha256: string; usedTickets: number; tornLastLine: boolean } | null;
}

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

async function loadJournal(
  path: string,
  now?: () => number,
): Promise<{ journal: { size: number; has(jti: string): boolean }; torn: boolean }> {
  const { SignerJournal } = await signerModule();
  let torn = false;
  try {
    const journal = new SignerJournal({
      path,
      readOnly: true,
      onTornLine: () => (torn = true),
      ...(now ? { now } : {}),
    });
    return { journal, torn };
  } catch (cause) {
    throw new CliError('signer_state_invalid', `the signer journal cannot be loaded: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** Copy the key directory to `stage/keys/` and the journal to `stage/journal.jsonl`, and describe both. */
export async function collectSignerState(
  stage: string,
  keyDir: string | undefined,
  journalPath: string | undefined,
): Promise<SignerManifest> {
  const { readKeyDirectory } = await signerModule();
  const manifest: SignerManifest = { keyDir: null, journal: null };
  if (keyDir !== undefined) {
    if (!existsSync(keyDir) || !statSync(keyDir).isDirectory())
      throw new CliError('signer_state_invalid', 'the signer key directory does not exist');
    let keys: number;
    try {
      keys = readKeyDirectory(keyDir).keys.length;
    } catch (cause) {
      throw new CliError('signer_state_invalid', (cause as Error).message, { cause });
    }
    const files = [];
    for (const file of walk(keyDir)) {
      const rel = relative(keyDir, file);
      if (rel.endsWith('.lock')) continue; // a writer's lock file, not state
      const bytes = readFileSync(file);
      const target = join(stage, 'keys', rel);
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      const mode = statSync(file).mode & 0o777;
      writeFileSync(target, bytes, { mode });
      files.push({ path: rel, bytes: bytes.length, sha256: sha256(bytes), mode });
    }
    manifest.keyDir = { keys, files };
  }
  if (journalPath !== undefined) {
    if (!existsSync(journalPath)) throw new CliError('signer_state_invalid', 'the signer journal does not exist');
    const bytes = readFileSync(journalPath);
    writeFileSync(join(stage, 'journal.jsonl'), bytes, { mode: 0o600 });
    const { journal, torn } = await loadJournal(join(stage, 'journal.jsonl'));
    manifest.journal = { bytes: bytes.length, sha256: sha256(bytes), usedTickets: journal.size, tornLastLine: torn };
  }
  return manifest;
}

/** Check a decrypted stage against its manifest (every file's size and hash). */
export function checkSignerStage(stage: string, manifest: SignerManifest): void {
  for (const f of manifest.keyDir?.files ?? []) {
    const path = join(stage, 'keys', f.path);
    if (!existsSync(path) || sha256(readFileSync(path)) !== f.sha256) {
      throw new CliError('backup_content_invalid', `signer file ${f.path} does not match the manifest`);
    }
  }
  if (
    manifest.journal &&
    (!existsSync(join(stage, 'journal.jsonl')) ||
      sha256(readFileSync(join(stage, 'journal.jsonl'))) !== manifest.journal.sha256)
  ) {
    throw new CliError('backup_content_invalid', 'the signer journal does not match the manifest');
  }
}

/** Refuse unless the key directory is absent or empty and the journal file is absent. */
export function assertEmptySignerTarget(keyDir: string | undefined, journalPath: string | undefined): void {
  if (keyDir !== undefined && existsSync(keyDir) && readdirSync(keyDir).length > 0) {
    throw new CliError('restore_target_not_empty', 'the signer key directory is not empty');
  }
  if (journalPath !== undefined && existsSync(journalPath)) {
    throw new CliError('restore_target_not_empty', 'the signer journal file already exists');
  }
}

export function restoreSignerState(stage: string, keyDir: string | undefined, journalPath: string | undefined): void {
  if (keyDir !== undefined && existsSync(join(stage, 'keys'))) {
    mkdirSync(keyDir, { recursive: true, mode: 0o700 });
    cpSync(join(stage, 'keys'), keyDir, {
      recursive: true,
      errorOnExist: true,
      force: false,
      preserveTimestamps: true,
    });
  }
  if (journalPath !== undefined && existsSync(join(stage, 'journal.jsonl'))) {
    mkdirSync(dirname(journalPath), { recursive: true, mode: 0o700 });
    cpSync(join(stage, 'journal.jsonl'), journalPath, { errorOnExist: true, force: false, preserveTimestamps: true });
  }
}

export interface SignerCheck {
  ok: boolean;
  keyFiles: { expected: number; matching: number };
  keys: number;
  /** Tickets in the backup's journal that have not yet expired: each must be refused (ticket_reused) after restore. */
  liveTickets: number;
  liveTicketsRemembered: number;
  problems: string[];
}

/**
 * Check the restored signer state: every key file byte for byte with its mode, the key directory readable by the
 * signer's own loader, and the restored journal, loaded by the signer's own journal code, remembering every ticket of
 * the backup that has not expired yet (an expired one is refused as `ticket_expired` anyway).
 */
export async function checkSignerState(
  keyDir: string | undefined,
  journalPath: string | undefined,
  manifest: SignerManifest,
  now = Date.now,
): Promise<SignerCheck> {
  const { readKeyDirectory, JOURNAL_GRACE_SECONDS } = await signerModule();
  const problems: string[] = [];
  let matching = 0;
  let keys = 0;
  if (manifest.keyDir) {
    if (keyDir === undefined) problems.push('the backup holds a key directory but no --signer-key-dir was given');
    else {
      for (const f of manifest.keyDir.files) {
        const path = join(keyDir, f.path);
        if (existsSync(path) && sha256(readFileSync(path)) === f.sha256 && (statSync(path).mode & 0o777) === f.mode)
          matching += 1;
        else problems.push(`key file ${f.path} differs`);
      }
      try {
        keys = readKeyDirectory(keyDir).keys.length;
        if (keys !== manifest.keyDir.keys)
          problems.push(`key directory lists ${keys} keys, backup ${manifest.keyDir.keys}`);
      } catch (error) {
        problems.push(`key directory unreadable: ${(error as Error).message}`);
      }
    }
  }
  let live = 0;
  let remembered = 0;
  if (manifest.journal) {
    if (journalPath === undefined || !existsSync(journalPath))
      problems.push('the backup holds a journal but it was not restored');
    else {
      const text = readFileSync(journalPath, 'utf8');
      if (sha256(text) !== manifest.journal.sha256) problems.push('journal differs from the backup');
      const { journal } = await loadJournal(journalPath, now);
      const nowSeconds = Math.floor(now() / 1000);
      for (const line of text.split('\n')) {
        let entry: { jti?: unknown; exp?: unknown };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue; // blank or the torn last line the signer drops too
        }
        if (
          typeof entry.jti !== 'string' ||
          typeof entry.exp !== 'number' ||
          entry.exp + JOURNAL_GRACE_SECONDS <= nowSeconds
        )
          continue;
        live += 1;
        if (journal.has(entry.jti)) remembered += 1;
        else problems.push('a used ticket is not remembered by the restored journal');
      }
    }
  }
  return {
    ok: problems.length === 0,
    keyFiles: { expected: manifest.keyDir?.files.length ?? 0, matching },
    keys,
    liveTickets: live,
    liveTicketsRemembered: remembered,
    problems,
  };
}

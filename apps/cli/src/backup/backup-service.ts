/**
 * create → verify → restore. A backup is two encrypted parts (the database, the signer's state), each a gzip'd tar
 * encrypted with age to one or more recipients whose private halves are kept off the gateway host, plus a plaintext
 * manifest with each part's sha256. Plaintext is only ever staged in a private (0700) temporary directory that is
 * removed when the command ends.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { CliError } from '../cli-error.ts';
import { decryptFile, digestFile, encryptFile } from './age-files.ts';
import type { BackupStore } from './backup-store.ts';
import { BACKUP_FORMAT, parseManifest, type BackupManifest, type PartEntry } from './manifest.ts';
import { connect, dumpDatabase, type DatabaseManifest } from './postgres-dump.ts';
import {
  assertEmptyDatabase,
  assertSameMigrations,
  checkDatabase,
  MIGRATIONS_DIR,
  restoreDatabase,
  type DatabaseCheck,
} from './postgres-restore.ts';
import {
  assertEmptySignerTarget,
  checkSignerStage,
  checkSignerState,
  collectSignerState,
  restoreSignerState,
  type SignerCheck,
  type SignerManifest,
} from './signer-state.ts';

const PART_FILE = { database: 'database.tar.gz.age', signer: 'signer.tar.gz.age' } as const;

function stagingDir(workDir: string | undefined): { dir: string; cleanup: () => void } {
  const base = workDir ?? tmpdir();
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(base, 'clawd402-backup-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const elapsed = (start: bigint): number => Number((process.hrtime.bigint() - start) / 1_000_000n);

export interface CreateOptions {
  store: BackupStore;
  recipients: string[];
  databaseUrl?: string;
  signerKeyDir?: string;
  signerJournal?: string;
  workDir?: string;
  id?: string;
  now?: () => Date;
}

export interface CreateResult {
  id: string;
  location: string;
  manifestSha256: string;
  parts: PartEntry[];
  tables: number;
  rows: number;
  signerKeys: number | null;
  usedTickets: number | null;
  timingsMs: { database: number; signer: number; encrypt: number; upload: number; total: number };
}

export function defaultBackupId(now: Date): string {
  return `clawd402-${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

export async function createBackup(options: CreateOptions): Promise<CreateResult> {
  if (!options.databaseUrl && !options.signerKeyDir && !options.signerJournal) {
    throw new CliError(
      'config_missing',
      'nothing to back up: give a database (DATABASE_URL) and/or the signer state (--signer-key-dir, --signer-journal)',
    );
  }
  const started = process.hrtime.bigint();
  const now = (options.now ?? (() => new Date()))();
  const id = options.id ?? defaultBackupId(now);
  const stage = stagingDir(options.workDir);
  const timings = { database: 0, signer: 0, encrypt: 0, upload: 0, total: 0 };
  try {
    const parts: PartEntry[] = [];
    let database: DatabaseManifest | null = null;
    let signer: SignerManifest | null = null;
    const pack = async (kind: 'database' | 'signer', dir: string): Promise<string> => {
      const t = process.hrtime.bigint();
      const plain = join(stage.dir, `${kind}.tar.gz`);
      await tar.c({ gzip: true, file: plain, cwd: dir, portable: false }, readdirSync(dir).sort());
      const encrypted = join(stage.dir, PART_FILE[kind]);
      const digest = await encryptFile(plain, encrypted, options.recipients);
      rmSync(plain);
      rmSync(dir, { recursive: true, force: true });
      parts.push({ name: PART_FILE[kind], contains: kind, ...digest });
      timings.encrypt += elapsed(t);
      return encrypted;
    };
    if (options.databaseUrl) {
      const t = process.hrtime.bigint();
      const dir = join(stage.dir, 'database');
      mkdirSync(join(dir, 'tables'), { recursive: true, mode: 0o700 });
      database = await dumpDatabase(options.databaseUrl, join(dir, 'tables'));
      writeFileSync(join(dir, 'database.json'), JSON.stringify(database, null, 2), { mode: 0o600 });
      timings.database = elapsed(t);
      await pack('database', dir);
    }
    if (options.signerKeyDir || options.signerJournal) {
      const t = process.hrtime.bigint();
      const dir = join(stage.dir, 'signer');
      mkdirSync(dir, { mode: 0o700 });
      signer = await collectSignerState(dir, options.signerKeyDir, options.signerJournal);
      writeFileSync(join(dir, 'signer.json'), JSON.stringify(signer, null, 2), { mode: 0o600 });
      timings.signer = elapsed(t);
      await pack('signer', dir);
    }
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      id,
      createdAt: now.toISOString(),
      recipients: [...options.recipients],
      parts,
      database: database && {
        serverVersion: database.serverVersion,
        migrations: database.migrations,
        tables: database.tables.map((t) => ({ name: t.name, rows: t.rows })),
        audit: database.audit,
      },
      signer: signer && {
        keys: signer.keyDir?.keys ?? 0,
        keyFiles: signer.keyDir?.files.length ?? 0,
        journal: signer.journal && { bytes: signer.journal.bytes, usedTickets: signer.journal.usedTickets },
      },
    };
    const manifestJson = `${JSON.stringify(manifest, null, 2)}\n`;
    const t = process.hrtime.bigint();
    await options.store.begin(id);
    try {
      for (const p of parts) await options.store.putFile(id, p.name, join(stage.dir, p.name));
      await options.store.commit(id, manifestJson);
    } catch (error) {
      await options.store.abort(id).catch(() => {});
      throw error;
    }
    timings.upload = elapsed(t);
    timings.total = elapsed(started);
    return {
      id,
      location: options.store.location,
      manifestSha256: createHash('sha256').update(manifestJson).digest('hex'),
      parts,
      tables: database?.tables.length ?? 0,
      rows: database?.tables.reduce((n, t) => n + t.rows, 0) ?? 0,
      signerKeys: signer?.keyDir?.keys ?? null,
      usedTickets: signer?.journal?.usedTickets ?? null,
      timingsMs: timings,
    };
  } finally {
    stage.cleanup();
  }
}

async function resolveId(store: BackupStore, id: string): Promise<string> {
  if (id !== 'latest') return id;
  const ids = await store.list();
  if (ids.length === 0) throw new CliError('backup_not_found', `there is no complete backup at ${store.location}`);
  return ids.at(-1)!;
}

interface Opened {
  manifest: BackupManifest;
  /** Decrypted and unpacked: `<stage>/database`, `<stage>/signer`, when an identity was given. */
  database: DatabaseManifest | null;
  signer: SignerManifest | null;
}

/**
 * Fetch every part into `stage`, check sizes and hashes against the manifest, and with `identities` decrypt, unpack
 * and check the contents against the inner manifests (each table's rows and sha256, each signer file's sha256).
 */
async function openBackup(
  store: BackupStore,
  id: string,
  stage: string,
  identities: string[] | undefined,
): Promise<Opened> {
  const text = await store.readManifest(id);
  if (text === null) throw new CliError('backup_not_found', `there is no complete backup ${id} at ${store.location}`);
  const manifest = parseManifest(text, id);
  for (const part of manifest.parts) {
    const local = join(stage, part.name);
    if (!(await store.getFile(id, part.name, local)))
      throw new CliError('backup_part_missing', `part ${part.name} is missing`, { detail: { part: part.name } });
    const digest = await digestFile(local);
    if (digest.bytes !== part.bytes || digest.sha256 !== part.sha256) {
      throw new CliError(
        'backup_hash_mismatch',
        `part ${part.name} does not match its size or sha256 in the manifest`,
        { detail: { part: part.name } },
      );
    }
  }
  if (!identities) return { manifest, database: null, signer: null };
  let database: DatabaseManifest | null = null;
  let signer: SignerManifest | null = null;
  for (const part of manifest.parts) {
    const plain = join(stage, `${part.contains}.tar.gz`);
    await decryptFile(join(stage, part.name), plain, identities);
    rmSync(join(stage, part.name));
    const dir = join(stage, part.contains);
    mkdirSync(dir, { mode: 0o700 });
    try {
      await tar.x({ file: plain, cwd: dir, strict: true });
    } catch (cause) {
      throw new CliError('backup_content_invalid', `part ${part.name} is not a valid archive`, { cause });
    }
    rmSync(plain);
    const inner = (name: string): unknown => {
      try {
        return JSON.parse(readFileSync(join(dir, name), 'utf8'));
      } catch (cause) {
        throw new CliError('backup_content_invalid', `part ${part.name} has no readable ${name}`, { cause });
      }
    };
    if (part.contains === 'database') {
      database = inner('database.json') as DatabaseManifest;
      checkDatabaseStage(dir, database, manifest);
    } else {
      signer = inner('signer.json') as SignerManifest;
      checkSignerStage(dir, signer);
      if (
        (signer.keyDir?.keys ?? 0) !== manifest.signer!.keys ||
        (signer.journal?.usedTickets ?? null) !== (manifest.signer!.journal?.usedTickets ?? null)
      ) {
        throw new CliError('backup_content_invalid', 'the signer part disagrees with the manifest');
      }
    }
  }
  return { manifest, database, signer };
}

function checkDatabaseStage(dir: string, inner: DatabaseManifest, outer: BackupManifest): void {
  const counts = new Map(outer.database!.tables.map((t) => [t.name, t.rows]));
  if (inner.tables.length !== counts.size)
    throw new CliError('backup_content_invalid', 'the database part lists other tables than the manifest');
  for (const t of inner.tables) {
    if (!/^[a-z_][a-z0-9_]*$/.test(t.name) || counts.get(t.name) !== t.rows) {
      throw new CliError('backup_content_invalid', `table ${t.name} disagrees with the manifest`);
    }
    const file = join(dir, 'tables', `${t.name}.copy`);
    if (!existsSync(file))
      throw new CliError('backup_content_invalid', `table ${t.name} is missing from the database part`);
    const text = readFileSync(file);
    let rows = 0;
    for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) rows += 1;
    if (rows !== t.rows || createHash('sha256').update(text).digest('hex') !== t.sha256) {
      throw new CliError('backup_content_invalid', `table ${t.name} does not match its row count or sha256`);
    }
  }
}

export interface VerifyResult {
  id: string;
  location: string;
  createdAt: string;
  parts: { name: string; bytes: number; sha256: string }[];
  decrypted: boolean;
  tables: { name: string; rows: number }[];
  audit: { rows: number; headHash: string | null } | null;
  signer: BackupManifest['signer'];
}

export async function verifyBackup(options: {
  store: BackupStore;
  id: string;
  identities?: string[];
  workDir?: string;
}): Promise<VerifyResult> {
  const id = await resolveId(options.store, options.id);
  const stage = stagingDir(options.workDir);
  try {
    const { manifest } = await openBackup(options.store, id, stage.dir, options.identities);
    return {
      id,
      location: options.store.location,
      createdAt: manifest.createdAt,
      parts: manifest.parts.map((p) => ({ name: p.name, bytes: p.bytes, sha256: p.sha256 })),
      decrypted: options.identities !== undefined,
      tables: manifest.database?.tables ?? [],
      audit: manifest.database?.audit ?? null,
      signer: manifest.signer,
    };
  } finally {
    stage.cleanup();
  }
}

export interface RestoreOptions {
  store: BackupStore;
  id: string;
  identities: string[];
  databaseUrl?: string;
  signerKeyDir?: string;
  signerJournal?: string;
  workDir?: string;
  migrationsDir?: string;
}

export interface RestoreResult {
  id: string;
  database: DatabaseCheck | null;
  signer: SignerCheck | null;
  timingsMs: { fetchAndDecrypt: number; load: number; check: number; total: number };
}

/**
 * Restore into an EMPTY database and an empty signer key directory (and an absent journal), then check the copy.
 * Every precondition is checked and every part decrypted and verified before anything is written, so a wrong key, a
 * tampered part or a non-empty target changes nothing. The database is loaded in one transaction.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const started = process.hrtime.bigint();
  const id = await resolveId(options.store, options.id);
  const stage = stagingDir(options.workDir);
  try {
    const text = await options.store.readManifest(id);
    if (text === null)
      throw new CliError('backup_not_found', `there is no complete backup ${id} at ${options.store.location}`);
    const outer = parseManifest(text, id);
    if (outer.database && !options.databaseUrl)
      throw new CliError(
        'config_missing',
        'the backup holds a database: give the target (DATABASE_URL or --database-url-file)',
      );
    if (outer.signer && !options.signerKeyDir && !options.signerJournal) {
      throw new CliError(
        'config_missing',
        "the backup holds the signer's state: give --signer-key-dir and --signer-journal",
      );
    }
    if (outer.database && options.databaseUrl) {
      assertSameMigrations(
        { migrations: outer.database.migrations } as DatabaseManifest,
        options.migrationsDir ?? MIGRATIONS_DIR,
      );
      const client = await connect(options.databaseUrl);
      try {
        await assertEmptyDatabase(client);
      } finally {
        await client.end().catch(() => {});
      }
    }
    if (outer.signer) assertEmptySignerTarget(options.signerKeyDir, options.signerJournal);

    const opened = await openBackup(options.store, id, stage.dir, options.identities);
    const fetched = elapsed(started);

    const t = process.hrtime.bigint();
    if (opened.database && options.databaseUrl) {
      await restoreDatabase(
        options.databaseUrl,
        join(stage.dir, 'database', 'tables'),
        opened.database,
        options.migrationsDir ?? MIGRATIONS_DIR,
      );
    }
    if (opened.signer) restoreSignerState(join(stage.dir, 'signer'), options.signerKeyDir, options.signerJournal);
    const load = elapsed(t);

    const c = process.hrtime.bigint();
    const database =
      opened.database && options.databaseUrl ? await checkDatabase(options.databaseUrl, opened.database) : null;
    const signer = opened.signer
      ? await checkSignerState(options.signerKeyDir, options.signerJournal, opened.signer)
      : null;
    const check = elapsed(c);
    const result: RestoreResult = {
      id,
      database,
      signer,
      timingsMs: { fetchAndDecrypt: fetched, load, check, total: elapsed(started) },
    };
    if ((database && !database.ok) || (signer && !signer.ok)) {
      throw new CliError('restore_integrity_failed', 'the restored copy does not match the backup (see detail)', {
        detail: result as unknown as Record<string, unknown>,
      });
    }
    return result;
  } finally {
    stage.cleanup();
  }
}

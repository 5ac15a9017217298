import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { CliError } from '../cli-error.ts';
import { required, type Command, type OptionSpec } from '../command.ts';
import { generateIdentity, parseRecipient, readIdentityFile } from '../backup/age-files.ts';
import { assertId, openStore, type BackupStore } from '../backup/backup-store.ts';
import type { CreateResult, RestoreResult, VerifyResult } from '../backup/backup-service.ts';

// The service (pg, the signer's modules) loads only when a command runs, so --help and usage errors answer at once.
const service = () => import('../backup/backup-service.ts');

const STORE_OPTIONS: Record<string, OptionSpec> = {
  's3-endpoint': {
    type: 'string',
    value: 'URL',
    description: 'S3-compatible endpoint (MinIO, Ceph, …); credentials from the AWS SDK chain',
    env: 'BACKUP_S3_ENDPOINT',
  },
  's3-region': { type: 'string', value: 'REGION', description: 'S3 region (default us-east-1)', env: 'AWS_REGION' },
  'work-dir': {
    type: 'string',
    value: 'DIR',
    description: 'where plaintext is staged (a private temp dir inside it, removed after)',
    env: 'BACKUP_WORK_DIR',
  },
};

const DATABASE_OPTION: Record<string, OptionSpec> = {
  'database-url-file': {
    type: 'string',
    value: 'FILE',
    description: 'file holding the Postgres URL (else env DATABASE_URL)',
    env: 'DATABASE_URL_FILE',
  },
};

const SIGNER_OPTIONS: Record<string, OptionSpec> = {
  'signer-key-dir': {
    type: 'string',
    value: 'DIR',
    description: "the signer's key directory (its --key-dir)",
    env: 'SIGNER_KEY_DIR',
  },
  'signer-journal': {
    type: 'string',
    value: 'FILE',
    description: "the signer's journal (its --journal)",
    env: 'SIGNER_JOURNAL',
  },
};

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new CliError(
      'file_unreadable',
      `${what} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** The database URL from a file or DATABASE_URL; never from argv (it may hold a password). */
function databaseUrl(options: Record<string, unknown>, env: NodeJS.ProcessEnv): string | undefined {
  const file = options['database-url-file'];
  if (typeof file === 'string') return readText(file, 'the database URL file').trim();
  return env.DATABASE_URL || undefined;
}

/** Open the store named by option `name`, run `fn` with it, and close it. */
async function withStore<T>(
  options: Record<string, unknown>,
  name: string,
  command: Command,
  fn: (store: BackupStore) => Promise<T>,
): Promise<T> {
  const store = await openStore(required(options, name, command), {
    ...(typeof options['s3-endpoint'] === 'string' ? { s3Endpoint: options['s3-endpoint'] } : {}),
    ...(typeof options['s3-region'] === 'string' ? { s3Region: options['s3-region'] } : {}),
  });
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const mb = (bytes: number): string => `${(bytes / 1_048_576).toFixed(1)} MiB`;

/** --from, --id and --identity of the commands that read a backup; `identity` says what the identity file is for. */
function readOptions(identity: string): Record<string, OptionSpec> {
  return {
    from: {
      type: 'string',
      value: 'DIR|s3://BUCKET/PREFIX',
      description: 'where the backup is',
      env: 'BACKUP_LOCATION',
    },
    id: { type: 'string', value: 'ID|latest', description: 'which backup (default latest)' },
    identity: { type: 'string', value: 'FILE', description: identity, env: 'BACKUP_IDENTITY_FILE' },
  };
}

/** The backup --id names ('latest' when it names none). */
const backupId = (options: Parameters<Command['run']>[0]): string =>
  options.id === undefined || options.id === 'latest' ? 'latest' : assertId(String(options.id));

/** The signer's key directory and journal, where given. */
function signerPaths(options: Record<string, unknown>): { signerKeyDir?: string; signerJournal?: string } {
  const keyDir = str(options['signer-key-dir']);
  const journal = str(options['signer-journal']);
  return { ...(keyDir ? { signerKeyDir: keyDir } : {}), ...(journal ? { signerJournal: journal } : {}) };
}

/** The work directory, where given. */
function workDir(options: Record<string, unknown>): { workDir?: string } {
  const dir = str(options['work-dir']);
  return dir ? { workDir: dir } : {};
}

export const backupCreate: Command<CreateResult> = {
  path: ['backup', 'create'],
  summary: "Back up the database and the signer's key directory and journal, encrypted to an age recipient",
  details: [
    'Dumps every table in one REPEATABLE READ snapshot, copies the signer state, encrypts both with age to the',
    'recipient(s) and writes them with a manifest of sha256 hashes to a directory or s3://bucket/prefix.',
    "The recipient's private half (the identity) must not be on this host: generate it elsewhere with `backup keygen`.",
    'The signer password file is not backed up: keep it in your secret store.',
  ].join('\n'),
  options: {
    to: {
      type: 'string',
      value: 'DIR|s3://BUCKET/PREFIX',
      description: 'where to write the backup',
      env: 'BACKUP_LOCATION',
    },
    recipient: {
      type: 'string',
      multiple: true,
      value: 'age1…',
      description: 'age recipient (public key); repeatable',
      env: 'BACKUP_RECIPIENT',
    },
    'recipients-file': {
      type: 'string',
      value: 'FILE',
      description: 'file of age recipients, one a line',
      env: 'BACKUP_RECIPIENTS_FILE',
    },
    id: { type: 'string', value: 'ID', description: 'backup id (default clawd402-<UTC time>)' },
    'no-database': { type: 'boolean', description: 'leave the database out' },
    ...DATABASE_OPTION,
    ...SIGNER_OPTIONS,
    ...STORE_OPTIONS,
  },
  async run(options, _out, env) {
    const recipients: string[] = [];
    const given = options.recipient;
    for (const r of Array.isArray(given) ? given : typeof given === 'string' ? given.split(',') : [])
      recipients.push(parseRecipient(r));
    const file = str(options['recipients-file']);
    if (file) {
      for (const line of readText(file, 'the recipients file').split('\n')) {
        if (line.trim() && !line.trim().startsWith('#')) recipients.push(parseRecipient(line));
      }
    }
    if (recipients.length === 0)
      throw new CliError('config_missing', '--recipient or --recipients-file (or BACKUP_RECIPIENT) is required');
    const url = options['no-database'] ? undefined : databaseUrl(options, env);
    const id = str(options.id);
    return withStore(options, 'to', this, async (store) =>
      (await service()).createBackup({
        store,
        recipients,
        ...(url ? { databaseUrl: url } : {}),
        ...signerPaths(options),
        ...workDir(options),
        ...(id ? { id: assertId(id) } : {}),
      }),
    );
  },
  render: (r) => [
    `backup ${r.id} written to ${r.location}`,
    ...r.parts.map((p) => `  ${p.name}  ${mb(p.bytes)}  sha256 ${p.sha256}`),
    `  ${r.tables} tables, ${r.rows} rows; signer keys ${r.signerKeys ?? '-'}, used tickets ${r.usedTickets ?? '-'}`,
    `  manifest sha256 ${r.manifestSha256} (record it outside the backup storage)`,
    `  took ${r.timingsMs.total} ms (database ${r.timingsMs.database}, encrypt ${r.timingsMs.encrypt}, write ${r.timingsMs.upload})`,
  ],
};

export const backupVerify: Command<VerifyResult> = {
  path: ['backup', 'verify'],
  summary: "Check a backup's parts against its manifest; with --identity also decrypt and check every table and file",
  options: {
    ...readOptions('age identity file: decrypt and check contents too'),
    ...STORE_OPTIONS,
  },
  async run(options) {
    const identity = str(options.identity);
    return withStore(options, 'from', this, async (store) =>
      (await service()).verifyBackup({
        store,
        id: backupId(options),
        ...(identity ? { identities: readIdentityFile(identity) } : {}),
        ...workDir(options),
      }),
    );
  },
  render: (r) => [
    `backup ${r.id} (${r.createdAt}) at ${r.location}: ${r.decrypted ? 'parts, decryption and contents verified' : 'parts verified (no --identity: contents not decrypted)'}`,
    ...r.parts.map((p) => `  ${p.name}  ${mb(p.bytes)}  ok`),
    `  ${r.tables.length} tables, ${r.tables.reduce((n, t) => n + t.rows, 0)} rows; audit ${r.audit?.rows ?? '-'} rows`,
  ],
};

export const backupRestore: Command<RestoreResult> = {
  path: ['backup', 'restore'],
  summary: 'Restore a backup into an EMPTY database and signer directory, then check the copy',
  details: [
    'Refuses (exit 3, nothing changed) unless the database has nothing in schema public, the key directory is empty',
    'or absent and the journal file is absent. Decrypts and checks every part before writing anything; loads the',
    'database in one transaction; then compares every table (rows and content hash) with the backup, walks the audit',
    'hash chain to the recorded head, and checks the restored journal remembers every unexpired used ticket.',
  ].join('\n'),
  options: {
    ...readOptions('age identity file (required)'),
    ...DATABASE_OPTION,
    ...SIGNER_OPTIONS,
    ...STORE_OPTIONS,
  },
  async run(options, _out, env) {
    const url = databaseUrl(options, env);
    return withStore(options, 'from', this, async (store) =>
      (await service()).restoreBackup({
        store,
        id: backupId(options),
        identities: readIdentityFile(required(options, 'identity', this)),
        ...(url ? { databaseUrl: url } : {}),
        ...signerPaths(options),
        ...workDir(options),
      }),
    );
  },
  render: (r) => [
    `backup ${r.id} restored and checked`,
    ...(r.database
      ? [
          `  database: ${r.database.tables.length} tables identical (${r.database.tables.reduce((n, t) => n + t.rows, 0)} rows)`,
          `  audit chain: ${r.database.audit.rows} rows verified, head ${r.database.audit.headHash}`,
        ]
      : []),
    ...(r.signer
      ? [
          `  signer: ${r.signer.keys} keys, ${r.signer.keyFiles.matching} files identical; ${r.signer.liveTicketsRemembered} unexpired used tickets remembered`,
        ]
      : []),
    `  took ${r.timingsMs.total} ms (fetch+decrypt ${r.timingsMs.fetchAndDecrypt}, load ${r.timingsMs.load}, check ${r.timingsMs.check})`,
  ],
};

export const backupKeygen: Command<{ recipient: string; identityFile: string }> = {
  path: ['backup', 'keygen'],
  summary: 'Make an age identity (private, keep it OFF the gateway host) and print its recipient (public)',
  options: {
    out: { type: 'string', value: 'FILE', description: 'identity file to create (mode 0600; refuses to overwrite)' },
  },
  async run(options) {
    const out = required(options, 'out', this);
    if (existsSync(out)) throw new CliError('restore_target_not_empty', 'the identity file already exists');
    const { identity, recipient } = await generateIdentity();
    writeFileSync(out, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, {
      mode: 0o600,
      flag: 'wx',
    });
    return { recipient, identityFile: out };
  },
  render: (r) => [`identity written to ${r.identityFile}`, `recipient (give this to backup create): ${r.recipient}`],
};

export const backupCommands = [backupCreate, backupVerify, backupRestore, backupKeygen] as Command[];

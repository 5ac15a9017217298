import { execFile } from 'node:child_process';
import type { JobDefinition } from './job-runner.ts';

/** Scheduled backups (BACKUP_* settings, docs/recovery.md): where to, encrypted to whom, and the command that runs. */
export interface BackupSettings {
  /** BACKUP_LOCATION: a directory or s3://bucket/prefix; null = backups not configured (the job skips). */
  location: string | null;
  /** BACKUP_RECIPIENT: age recipients (public keys). */
  recipients: string[];
  /** BACKUP_RECIPIENTS_FILE. */
  recipientsFile: string | null;
  s3Endpoint: string | null;
  workDir: string | null;
  /** The signer's key directory and journal, when the signer shares this host. */
  signerKeyDir: string | null;
  signerJournal: string | null;
  /** argv of `clawd402` (BACKUP_CLI); null: the workspace's CLI through tsx, resolved when a backup runs. */
  command: string[] | null;
}

/** The workspace's `clawd402` (apps/cli), run with the tsx loader the gateway itself runs under. */
export function workspaceCli(): string[] {
  return [
    process.execPath,
    '--import',
    import.meta.resolve('tsx'),
    new URL('../../../cli/src/cli.ts', import.meta.url).pathname,
  ];
}

interface CliAnswer {
  id?: string;
  location?: string;
  manifestSha256?: string;
  tables?: number;
  rows?: number;
  timingsMs?: { total?: number };
  error?: { code?: string; message?: string };
}

/**
 * Run `clawd402 backup create --json` in a child process (the CLI's own logic, its plaintext staging and its
 * encryption stay out of the gateway's memory) with the database URL and the BACKUP_* settings in its environment,
 * never on its command line; the child is killed when the run is aborted (lease lost, process stopping). Resolves
 * with the CLI's JSON answer; rejects with the CLI's error code and sentence.
 */
function runBackupCli(
  settings: BackupSettings,
  databaseUrl: string,
  baseEnv: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<CliAnswer> {
  const env: NodeJS.ProcessEnv = {
    ...baseEnv,
    DATABASE_URL: databaseUrl,
    BACKUP_LOCATION: settings.location!,
    ...(settings.recipients.length ? { BACKUP_RECIPIENT: settings.recipients.join(',') } : {}),
    ...(settings.recipientsFile ? { BACKUP_RECIPIENTS_FILE: settings.recipientsFile } : {}),
    ...(settings.s3Endpoint ? { BACKUP_S3_ENDPOINT: settings.s3Endpoint } : {}),
    ...(settings.workDir ? { BACKUP_WORK_DIR: settings.workDir } : {}),
    ...(settings.signerKeyDir ? { SIGNER_KEY_DIR: settings.signerKeyDir } : {}),
    ...(settings.signerJournal ? { SIGNER_JOURNAL: settings.signerJournal } : {}),
  };
  const [file, ...args] = settings.command ?? workspaceCli();
  return new Promise((resolve, reject) => {
    execFile(
      file!,
      [...args, 'backup', 'create', '--json'],
      { env, signal, maxBuffer: 4 * 1024 * 1024, timeout: 6 * 3_600_000 },
      (error, stdout) => {
        let answer: CliAnswer | null;
        try {
          answer = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as CliAnswer;
        } catch {
          answer = null;
        }
        if (answer?.error) {
          reject(new Error(`backup create failed: ${answer.error.code ?? 'error'}: ${answer.error.message ?? ''}`));
        } else if (error || !answer) {
          reject(new Error(`backup create failed: the CLI exited with ${error?.code ?? 'no answer'}`));
        } else resolve(answer);
      },
    );
  });
}

/** `backup`: a `clawd402 backup create` to BACKUP_LOCATION; skipped (not failed) when backups are not configured. */
export function backupJob(deps: {
  settings: BackupSettings;
  databaseUrl: string;
  schedule: string;
  env: NodeJS.ProcessEnv;
}): JobDefinition {
  return {
    name: 'backup',
    schedule: deps.schedule,
    maxAttempts: 2,
    async run({ signal }) {
      if (!deps.settings.location) return { outcome: 'skipped', detail: { reason: 'BACKUP_LOCATION is not set' } };
      const answer = await runBackupCli(deps.settings, deps.databaseUrl, deps.env, signal);
      return {
        outcome: 'succeeded',
        detail: {
          id: answer.id,
          location: answer.location,
          manifestSha256: answer.manifestSha256,
          tables: answer.tables,
          rows: answer.rows,
          ms: answer.timingsMs?.total,
        },
      };
    },
  };
}

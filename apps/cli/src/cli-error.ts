/**
 * Every failure the CLI reports is a CliError with a stable `code` and a fixed exit status. Codes are API: scripts and
 * runbooks match on them (`--json` prints `{"error":{"code","message"}}`). The catalogue below is listed in
 * apps/cli/README.md; a test keeps the two in step.
 */
export const EXIT = {
  ok: 0,
  /** A check failed: a backup does not verify, or a restored copy does not match its backup. */
  integrity: 1,
  /** The command line is wrong (unknown command or option, missing value). */
  usage: 2,
  /**
   * Refused before changing anything: a precondition does not hold (non-empty target, wrong key, other schema), the
   * gateway refused the request, or the operator did not confirm.
   */
  refused: 3,
  /** A service the command needs (Postgres, the object store, the gateway) cannot be reached or read. */
  unavailable: 4,
  /** Not logged in, or the stored session cannot be used (expired, insecure file, another gateway). */
  auth: 5,
  /** The gateway knows no such approval, intent, agent, key or policy version. */
  notFound: 6,
  /** An unexpected error (a bug): only the error's class is printed. */
  internal: 70,
} as const;

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

export const CLI_ERRORS = {
  usage: { exit: EXIT.usage, message: 'the command line is not valid' },
  config_missing: { exit: EXIT.usage, message: 'a required setting is missing' },
  file_unreadable: { exit: EXIT.refused, message: 'a file named on the command line cannot be read' },
  backup_not_found: { exit: EXIT.refused, message: 'no backup with that id is at that location' },
  backup_manifest_invalid: { exit: EXIT.integrity, message: 'the backup manifest is missing fields or is not JSON' },
  backup_part_missing: { exit: EXIT.integrity, message: 'a part the manifest lists is missing' },
  backup_hash_mismatch: { exit: EXIT.integrity, message: 'a part does not match the size or sha256 in the manifest' },
  backup_content_invalid: { exit: EXIT.integrity, message: 'a decrypted part is not what the manifest describes' },
  backup_decrypt_failed: { exit: EXIT.refused, message: 'the identity does not decrypt this backup' },
  backup_recipient_invalid: { exit: EXIT.usage, message: 'the recipient is not an age public key (age1…)' },
  backup_identity_invalid: { exit: EXIT.usage, message: 'the identity file holds no age secret key' },
  restore_target_not_empty: { exit: EXIT.refused, message: 'the restore target is not empty' },
  restore_schema_mismatch: {
    exit: EXIT.refused,
    message: 'the backup was made with other migrations than this build has',
  },
  restore_integrity_failed: { exit: EXIT.integrity, message: 'the restored copy does not match the backup' },
  signer_state_invalid: { exit: EXIT.refused, message: "the signer's key directory or journal cannot be read" },
  database_unavailable: { exit: EXIT.unavailable, message: 'the database cannot be reached' },
  storage_unavailable: { exit: EXIT.unavailable, message: 'the backup storage cannot be reached' },
  not_logged_in: { exit: EXIT.auth, message: 'not logged in to this gateway (run clawd402 login)' },
  session_expired: { exit: EXIT.auth, message: 'the session has ended (run clawd402 login)' },
  login_failed: { exit: EXIT.auth, message: 'the gateway refused the username, password or TOTP code' },
  token_file_insecure: {
    exit: EXIT.auth,
    message: 'the session file or its directory is open to other users or is not a plain file',
  },
  gateway_refused: { exit: EXIT.refused, message: 'the gateway refused the request' },
  gateway_not_found: { exit: EXIT.notFound, message: 'the gateway has no such object' },
  gateway_unavailable: { exit: EXIT.unavailable, message: 'the gateway cannot be reached or failed' },
  confirmation_required: {
    exit: EXIT.refused,
    message: 'this command asks before it changes anything: run it on a terminal, or pass --yes',
  },
  not_confirmed: { exit: EXIT.refused, message: 'not confirmed; nothing changed' },
  policy_lint_failed: { exit: EXIT.integrity, message: 'the policy set has lint errors; nothing changed' },
  audit_verification_failed: { exit: EXIT.integrity, message: 'the audit chain does not verify' },
  internal: { exit: EXIT.internal, message: 'unexpected error' },
} as const satisfies Record<string, { exit: ExitStatus; message: string }>;

export type CliErrorCode = keyof typeof CLI_ERRORS;

export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly exit: ExitStatus;
  /** Machine-readable detail safe to print (names, counts, hashes; never a secret or a URL). */
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: CliErrorCode, message?: string, options?: { cause?: unknown; detail?: Record<string, unknown> }) {
    super(message ?? CLI_ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exit = CLI_ERRORS[code].exit;
    this.detail = options?.detail;
  }
}

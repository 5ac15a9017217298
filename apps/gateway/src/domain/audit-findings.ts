/**
 * What `pnpm audit:verify` can find, each with its own exit code (the first finding decides the exit code; every one
 * is printed). 0 means the chain and every checkpoint verified; 2 that the database could not be read.
 */
export const AUDIT_FINDINGS = {
  row_missing: { exitCode: 3, meaning: 'rows were deleted: a gap in seq' },
  link_broken: {
    exitCode: 4,
    meaning: "prev_hash is not the previous row's hash: rows deleted, reordered or rewritten",
  },
  hash_mismatch: { exitCode: 5, meaning: 'the row does not hash to its stored hash: the record (or hash) was edited' },
  column_mismatch: {
    exitCode: 6,
    meaning: 'a query column (at, actor, action, subject) differs from the hashed record',
  },
  record_malformed: { exitCode: 7, meaning: 'the hashed record is not JSON' },
  chain_truncated: {
    exitCode: 8,
    meaning: 'the chain is shorter than a signed checkpoint: rows were cut from the end',
  },
  checkpoint_mismatch: {
    exitCode: 9,
    meaning: 'the row a checkpoint counts to has another hash: history below it was rewritten',
  },
  checkpoint_invalid: { exitCode: 10, meaning: "a checkpoint does not verify under the signer's checkpoint key" },
  checkpoints_unreadable: {
    exitCode: 11,
    meaning: "the signer's latest checkpoint could not be read, so a cut tail cannot be ruled out",
  },
} as const;

export type AuditFindingKind = keyof typeof AUDIT_FINDINGS;

export interface AuditFinding {
  kind: AuditFindingKind;
  /** The row it is about (for checkpoint findings: the checkpoint's count; 0 when none applies). */
  seq: number;
  /** One sentence naming what was found. */
  detail: string;
}

/** Exit code of `audit:verify` for a list of findings: 0 for none, else the first one's. */
export function auditExitCode(findings: readonly AuditFinding[]): number {
  return findings.length === 0 ? 0 : AUDIT_FINDINGS[findings[0]!.kind].exitCode;
}

import type pg from 'pg';
import {
  SignerError,
  type CheckpointClaims,
  type CheckpointResult,
  type SignCheckpointParams,
} from '@clawd402/protocol';
import { verifyCheckpoint } from '@clawd402/signer-client';
import type { AuditFinding } from '../domain/audit-findings.ts';
import {
  insertAuditCheckpoint,
  listAuditCheckpoints,
  readAuditHead,
  verifyAuditChain,
} from '../repositories/audit-repository.ts';

/** The signer's side of checkpoints (a SignerClient). */
export interface CheckpointNotary {
  signCheckpoint(params: SignCheckpointParams): Promise<CheckpointResult>;
  getCheckpoint(): Promise<CheckpointResult>;
}

/** A checkpoint that verified under the signer's checkpoint key. */
export interface AuditCheckpoint extends CheckpointClaims {
  jws: string;
}

/** Why no checkpoint was made. */
export class AuditCheckpointError extends Error {
  constructor(
    readonly reason: 'chain_broken' | 'chain_truncated' | 'checkpoint_invalid',
    message: string,
  ) {
    super(message);
    this.name = 'AuditCheckpointError';
  }
}

/**
 * Make a signed checkpoint of the audit chain's head: read the head, check the rows added since the signer's latest
 * checkpoint (they must link onto its head and verify), have the signer sign {count, head} with its checkpoint key
 * (it keeps the checkpoint in its own append-only file), and keep a copy in Postgres. Returns null for an empty
 * chain; the existing checkpoint when the head has not moved, or when another process checkpointed further meanwhile.
 *
 * Refuses (AuditCheckpointError) to notarise a chain that is shorter than the signer's latest checkpoint
 * (`chain_truncated`), whose new rows do not verify (`chain_broken`), or a signer answer that does not verify
 * (`checkpoint_invalid`): a checkpoint must never bless a tampered log.
 *
 * @example
 * await makeAuditCheckpoint({ pool, signer }); // from `pnpm audit:checkpoint`, or a scheduled job
 */
export async function makeAuditCheckpoint(deps: {
  pool: pg.Pool;
  signer: CheckpointNotary;
}): Promise<AuditCheckpoint | null> {
  const { pool, signer } = deps;
  const head = await readAuditHead(pool);
  if (head === null) return null;
  const current = await signer.getCheckpoint();
  let from: CheckpointClaims | undefined;
  if (current.checkpoint !== null) {
    from = await verified(current.checkpoint, current.publicKey);
    if (from.count > head.count) {
      throw new AuditCheckpointError(
        'chain_truncated',
        `the chain has ${head.count} rows, fewer than the ${from.count} of the signer's latest checkpoint`,
      );
    }
    if (from.count === head.count && from.head === head.head) {
      await store(pool, { ...from, jws: current.checkpoint });
      return { ...from, jws: current.checkpoint };
    }
  }
  const walk = await verifyAuditChain(pool, {
    ...(from ? { from: { count: from.count, head: from.head } } : {}),
    upTo: head.count,
    maxFindings: 1,
  });
  if (!walk.ok) {
    const f = walk.findings[0]!;
    throw new AuditCheckpointError(
      'chain_broken',
      `the chain does not verify at seq ${f.seq} (${f.kind}: ${f.detail}); run pnpm audit:verify`,
    );
  }
  let signed: CheckpointResult;
  try {
    signed = await signer.signCheckpoint(head);
  } catch (error) {
    // Another process checkpointed a longer chain meanwhile: that one covers this head.
    if (error instanceof SignerError && error.code === 'checkpoint_regressed') {
      const latest = await signer.getCheckpoint();
      return latest.checkpoint === null
        ? null
        : { ...(await verified(latest.checkpoint, latest.publicKey)), jws: latest.checkpoint };
    }
    throw error;
  }
  const claims = await verified(signed.checkpoint!, signed.publicKey);
  if (claims.count !== head.count || claims.head !== head.head)
    throw new AuditCheckpointError('checkpoint_invalid', 'the signer signed another head than the one asked');
  const checkpoint = { ...claims, jws: signed.checkpoint! };
  await store(pool, checkpoint);
  return checkpoint;
}

export interface AuditVerification {
  ok: boolean;
  rows: number;
  lastSeq: number;
  headHash: string;
  findings: AuditFinding[];
  /** Checkpoints that verified and were compared with the chain, by count (highest first). */
  checkpointsChecked: number[];
  /** What could not be checked and why (no findings, but the operator should know). */
  notes: string[];
}

export interface VerifyAuditOptions {
  pool: pg.Pool;
  /**
   * The signer, for its latest checkpoint (the copy the database writer cannot remove) and its checkpoint public key.
   * Without it only the copies in Postgres are checked, which an attacker with the database could have deleted.
   */
  signer?: Pick<CheckpointNotary, 'getCheckpoint'>;
  /** The checkpoint public key the operator pinned (SPKI PEM); checked against the signer's. */
  pinnedPublicKey?: string;
}

/**
 * Everything `pnpm audit:verify` checks: the chain row by row (deletions, broken links, edits of each hashed field,
 * see verifyAuditChain), then every checkpoint — the signer's latest and the copies in Postgres — against it: each
 * must verify under the signer's checkpoint key (`checkpoint_invalid`), the chain must reach its count
 * (`chain_truncated`: rows cut from the end) and the row at its count must carry its head (`checkpoint_mismatch`).
 */
export async function verifyAudit(options: VerifyAuditOptions): Promise<AuditVerification> {
  const notes: string[] = [];
  const findings: AuditFinding[] = [];
  let signerLatest: string | null = null;
  let publicKey = options.pinnedPublicKey ?? null;
  if (options.signer) {
    try {
      const latest = await options.signer.getCheckpoint();
      signerLatest = latest.checkpoint;
      if (publicKey === null) publicKey = latest.publicKey;
      else if (!samePem(publicKey, latest.publicKey)) {
        findings.push({
          kind: 'checkpoint_invalid',
          seq: 0,
          detail: "the signer's checkpoint key is not the pinned one",
        });
      }
      if (signerLatest === null) notes.push('the signer has signed no checkpoint yet');
    } catch (error) {
      const code = error instanceof Error && 'code' in error ? String((error as { code: unknown }).code) : 'error';
      findings.push({
        kind: 'checkpoints_unreadable',
        seq: 0,
        detail: `the signer's latest checkpoint could not be read (${code})`,
      });
    }
  } else {
    notes.push('no signer configured (SIGNER_SOCKET): only the checkpoint copies in Postgres were checked');
  }

  const candidates = [
    ...(signerLatest === null ? [] : [signerLatest]),
    ...(await listAuditCheckpoints(options.pool)).map((c) => c.jws),
  ];
  const checkpoints: CheckpointClaims[] = [];
  if (publicKey === null) {
    if (candidates.length > 0)
      notes.push(
        `${candidates.length} checkpoint(s) not checked: no checkpoint public key (AUDIT_CHECKPOINT_PUBLIC_KEY_FILE or the signer)`,
      );
  } else {
    const seen = new Set<string>();
    for (const jws of candidates) {
      if (seen.has(jws)) continue;
      seen.add(jws);
      const result = await verifyCheckpoint(jws, publicKey);
      if ('problem' in result)
        findings.push({
          kind: 'checkpoint_invalid',
          seq: 0,
          detail: `a checkpoint copy is ${result.problem === 'malformed' ? 'malformed' : 'not signed by the checkpoint key'}`,
        });
      else checkpoints.push(result.claims);
    }
  }

  const walk = await verifyAuditChain(options.pool, { hashesAt: new Set(checkpoints.map((c) => c.count)) });
  findings.unshift(...walk.findings);
  const checked: number[] = [];
  const byCount = [...new Map(checkpoints.map((c) => [c.count, c])).values()].sort((a, b) => b.count - a.count);
  for (const c of byCount) {
    checked.push(c.count);
    if (c.count > walk.lastSeq) {
      findings.push({
        kind: 'chain_truncated',
        seq: c.count,
        detail: `the chain ends at seq ${walk.lastSeq} but the checkpoint signed at ${c.at} counts ${c.count} rows: ${c.count - walk.lastSeq} cut from the end`,
      });
      continue;
    }
    const stored = walk.hashes.get(c.count);
    if (stored !== undefined && stored !== c.head) {
      findings.push({
        kind: 'checkpoint_mismatch',
        seq: c.count,
        detail: `row ${c.count} does not carry the head the checkpoint signed at ${c.at} holds`,
      });
    }
  }
  return {
    ok: findings.length === 0,
    rows: walk.rows,
    lastSeq: walk.lastSeq,
    headHash: walk.headHash,
    findings,
    checkpointsChecked: checked,
    notes,
  };
}

async function verified(jws: string, publicKey: string): Promise<CheckpointClaims> {
  const result = await verifyCheckpoint(jws, publicKey);
  if ('problem' in result)
    throw new AuditCheckpointError('checkpoint_invalid', `the signer's checkpoint does not verify (${result.problem})`);
  return result.claims;
}

async function store(pool: pg.Pool, c: AuditCheckpoint): Promise<void> {
  await insertAuditCheckpoint(pool, { count: c.count, head: c.head, signedAt: new Date(c.at), jws: c.jws });
}

function samePem(a: string, b: string): boolean {
  return a.replace(/\s+/g, '') === b.replace(/\s+/g, '');
}

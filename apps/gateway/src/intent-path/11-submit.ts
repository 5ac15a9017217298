import type pg from 'pg';
import { faultPoint, logEvent } from '@clawd402/protocol';
import type { Hex } from 'viem';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { IntentRecord } from '../domain/intent.ts';
import type { Logger } from '../domain/logger.ts';
import { findIntent, markSubmittedBatch, type SubmittedRow } from '../repositories/intents-repository.ts';
import { BatchLanes } from './batch-lane.ts';

export interface SubmitDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  log: Logger;
  /** Records broadcasts in batches (the intent path's); without it each is its own statement. */
  submissions?: SubmissionLog;
}

/** The most broadcasts one `submitted` statement records. */
const MAX_SUBMITTED_BATCH = 64;

/**
 * The `signed` → `submitted` bookkeeping after a broadcast, batched: broadcasts that finish while one batch is being
 * written queue in memory (holding no connection) and go in the next, one statement for all of them
 * (markSubmittedBatch: status, history event and audit record each, one audit-chain turn). The transactions are out
 * either way; this only records it, so a failed batch loses nothing the tracker does not recover from the receipts.
 */
export class SubmissionLog {
  private readonly lanes: BatchLanes<SubmittedRow, IntentRecord | null>;

  constructor(pool: pg.Pool) {
    this.lanes = new BatchLanes(async (batch) => {
      const moved = new Map((await markSubmittedBatch(pool, batch)).map((intent) => [intent.id, intent]));
      return batch.map((row) => ({ ok: true as const, value: moved.get(row.id) ?? null }));
    }, MAX_SUBMITTED_BATCH);
  }

  /** The intent as `submitted`, or null when it was no longer `signed` (a tracker settled it first). */
  record(row: SubmittedRow): Promise<IntentRecord | null> {
    return this.lanes.run('submitted', row);
  }
}

/**
 * Stage 11 — submit: broadcast a stored signed transaction on its route — the public mempool, or the chain's private
 * relay for intents above the MEV threshold (docs/submission.md). A failed broadcast leaves the intent `signed`; the
 * tracker retries it (12-track.ts). Past its deadline an intent is never broadcast again (unless what it holds now is
 * the cancellation the deadline asked for): the reconciler cancels its nonce instead.
 */
export async function submitSigned(deps: SubmitDeps, intent: IntentRecord): Promise<IntentRecord> {
  if (intent.cancelReason === null && intent.deadline !== null && intent.deadline.getTime() <= Date.now())
    return intent;
  const route = intent.submitRoute ?? 'public';
  faultPoint('submit.before_broadcast'); // crash tests only (docs/recovery.md)
  try {
    await deps.chains.broadcast(intent.chainId, intent.rawTx as Hex, route);
  } catch (error) {
    logEvent(deps.log, 'chain.broadcast_failed', { err: error, intentId: intent.id, chainId: intent.chainId, route });
    return intent;
  }
  faultPoint('submit.after_broadcast'); // crash tests only (docs/recovery.md)
  const row: SubmittedRow = { id: intent.id, chainId: intent.chainId, txHash: intent.txHash, route };
  const recording = deps.submissions
    ? deps.submissions.record(row)
    : markSubmittedBatch(deps.pool, [row]).then((moved) => moved[0] ?? null);
  const updated = await recording.catch((error: unknown) => {
    // The transaction is out; only the bookkeeping failed. The tracker settles it from the receipt.
    deps.log.error({ err: error, intentId: intent.id }, 'could not record submission');
    return undefined;
  });
  if (updated === undefined) return intent;
  if (updated)
    logEvent(deps.log, 'intent.submitted', {
      intentId: intent.id,
      chainId: intent.chainId,
      txHash: intent.txHash,
      route,
    });
  // Lost the compare-and-set: a tracker (perhaps in another process) already settled it from the receipt.
  return updated ?? (await findIntent(deps.pool, intent.id).catch(() => null)) ?? intent;
}

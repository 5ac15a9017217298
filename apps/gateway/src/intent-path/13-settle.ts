import type pg from 'pg';
import { faultPoint, logEvent } from '@clawd402/protocol';
import type { TransactionReceipt } from 'viem';
import type { IntentRecord } from '../domain/intent.ts';
import type { Logger } from '../domain/logger.ts';
import { markSettledBatch, type SettledRow } from '../repositories/intents-repository.ts';
import { closeSpend, findUnsettledSpend } from '../repositories/spend-repository.ts';

export interface SettleDeps {
  pool: pg.Pool;
  log: Logger;
}

/** A mined transaction of an in-flight intent: its receipt, and which of the intent's transactions it was. */
export interface Mined {
  intent: IntentRecord;
  receipt: TransactionReceipt;
  kind: 'original' | 'speedup' | 'cancel' | 'fill';
}

/**
 * Stage 13 — settle: a mined transaction ends its intent — `confirmed`, or `failed` with `transaction_reverted`; when
 * its cancellation was mined, `cancelled` (or `expired`, when its deadline asked for the cancellation), having moved
 * nothing — with its audit record, and the intent's reservation is trued up to what the transaction really cost (gas
 * used × effective price, not the worst case reserved). Called by the tracker (12-track.ts) with the receipts of a
 * block's intents, or of one intent: the endings and the spends are written in one statement (markSettledBatch).
 * Compare-and-set: a second tracker settling the same intent changes nothing. Returns how many intents it ended.
 */
export async function settleMined(deps: SettleDeps, mined: readonly Mined[]): Promise<number> {
  if (mined.length === 0) return 0;
  faultPoint('settle.before_write'); // crash tests only (docs/recovery.md)
  const moved = await markSettledBatch(deps.pool, mined.map(settledRow));
  for (const row of moved)
    logEvent(deps.log, 'intent.settled', {
      intentId: row.id,
      chainId: row.chainId,
      txHash: row.txHash,
      status: row.status,
    });
  return moved.length;
}

/** How a mined transaction ends its intent: the ending, its error (if any), and what its records say. */
function settledRow({ intent, receipt, kind }: Mined): SettledRow {
  const success = receipt.status === 'success';
  const expired = intent.cancelReason === 'deadline';
  const ending: Pick<SettledRow, 'status' | 'error'> & { detail?: Record<string, unknown>; data: object } =
    kind === 'cancel'
      ? {
          status: expired ? 'expired' : 'cancelled',
          error: expired
            ? {
                error_code: 'deadline_passed',
                error_message: 'The deadline passed before the transaction was mined; it was cancelled.',
              }
            : null,
          detail: { cancellation: receipt.transactionHash },
          data: { reason: intent.cancelReason },
        }
      : {
          status: success ? 'confirmed' : 'failed',
          error: success
            ? null
            : { error_code: 'transaction_reverted', error_message: 'The transaction was mined but reverted.' },
          data: { status: receipt.status },
        };
  return {
    id: intent.id,
    status: ending.status,
    txHash: receipt.transactionHash,
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed,
    effectiveGasPrice: receipt.effectiveGasPrice,
    error: ending.error,
    detail: { blockNumber: receipt.blockNumber.toString(), ...ending.detail },
    audit: {
      actor: 'system:tracker',
      action: `intent.${ending.status}`,
      subject: `intent:${intent.id}`,
      data: {
        chainId: intent.chainId,
        txHash: receipt.transactionHash,
        blockNumber: receipt.blockNumber.toString(),
        gasUsed: receipt.gasUsed.toString(),
        effectiveGasPrice: receipt.effectiveGasPrice.toString(),
        ...ending.data,
      },
    },
  };
}

/**
 * Close the spend of intents that ended while their spend stayed open (a process died between the two writes, or the
 * write failed): released if they never reached the chain, trued up from the receipt if they did. Returns how many.
 */
export async function closeOpenSpend(deps: SettleDeps, limit: number): Promise<number> {
  let closed = 0;
  for (const { id } of await findUnsettledSpend(deps.pool, limit)) {
    if (await closeSpend(deps.pool, id)) closed += 1;
  }
  return closed;
}

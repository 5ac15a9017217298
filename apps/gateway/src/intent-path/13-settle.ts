import type pg from 'pg';
import { faultPoint, logEvent } from '@clawd402/protocol';
import type { TransactionReceipt } from 'viem';
import type { IntentRecord } from '../domain/intent.ts';
import type { Logger } from '../domain/logger.ts';
import { transitionIntent } from '../repositories/intents-repository.ts';
import { closeSpend, findUnsettledSpend } from '../repositories/spend-repository.ts';

export interface SettleDeps {
  pool: pg.Pool;
  log: Logger;
}

/**
 * Stage 13 — settle: a mined transaction ends its intent — `confirmed`, or `failed` with `transaction_reverted` — with
 * its audit record, and the intent's reservation is trued up to what the transaction really cost (gas used × effective
 * price, not the worst case reserved). Called by the tracker (12-track.ts) with the receipt of whichever of the
 * intent's transactions was mined. Compare-and-set: a second tracker settling the same intent changes nothing.
 */
export async function settleFromReceipt(
  deps: SettleDeps,
  intent: IntentRecord,
  receipt: TransactionReceipt,
): Promise<void> {
  const success = receipt.status === 'success';
  await settleMined(deps, intent, receipt, {
    status: success ? 'confirmed' : 'failed',
    error: success
      ? undefined
      : { error_code: 'transaction_reverted', error_message: 'The transaction was mined but reverted.' },
    data: { status: receipt.status },
  });
}

/**
 * The intent's cancellation was mined: it ends `cancelled` — or `expired`, when its deadline asked for the
 * cancellation — having moved nothing; its spend is trued up to the fee the cancellation cost.
 */
export async function settleCancelled(
  deps: SettleDeps,
  intent: IntentRecord,
  receipt: TransactionReceipt,
): Promise<void> {
  const expired = intent.cancelReason === 'deadline';
  await settleMined(deps, intent, receipt, {
    status: expired ? 'expired' : 'cancelled',
    error: expired
      ? {
          error_code: 'deadline_passed',
          error_message: 'The deadline passed before the transaction was mined; it was cancelled.',
        }
      : undefined,
    detail: { cancellation: receipt.transactionHash },
    data: { reason: intent.cancelReason },
  });
}

/** How a mined transaction ends its intent: the final status, its error (if any), and what the records add. */
interface Ending {
  status: 'confirmed' | 'failed' | 'cancelled' | 'expired';
  error?: { error_code: string; error_message: string } | undefined;
  /** Added to the intent event's detail (after the block number). */
  detail?: Record<string, unknown>;
  /** Added to the audit record's data (after the receipt's figures). */
  data: Record<string, unknown>;
}

/**
 * Move the intent from `signed`/`submitted` to its ending with the receipt's figures, the intent event and the
 * `intent.<status>` audit record (actor system:tracker) in one write; when it moved, true its spend up.
 */
async function settleMined(
  deps: SettleDeps,
  intent: IntentRecord,
  receipt: TransactionReceipt,
  ending: Ending,
): Promise<void> {
  faultPoint('settle.before_write'); // crash tests only (docs/recovery.md)
  const moved = await transitionIntent(deps.pool, intent.id, ['signed', 'submitted'], ending.status, {
    fields: {
      tx_hash: receipt.transactionHash,
      block_number: receipt.blockNumber,
      gas_used: receipt.gasUsed,
      effective_gas_price: receipt.effectiveGasPrice,
      raw_tx: null,
      ...ending.error,
    },
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
  });
  if (moved)
    logEvent(deps.log, 'intent.settled', {
      intentId: intent.id,
      chainId: intent.chainId,
      txHash: receipt.transactionHash,
      status: ending.status,
    });
  // True the reservation up to what the transaction really cost (the sweep retries if this fails).
  if (moved) await trueUp(deps, intent.id);
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

async function trueUp(deps: SettleDeps, intentId: string): Promise<void> {
  faultPoint('settle.before_spend_close'); // crash tests only (docs/recovery.md)
  await closeSpend(deps.pool, intentId).catch((error: unknown) =>
    deps.log.error({ err: error, intentId }, 'could not settle spend'),
  );
}

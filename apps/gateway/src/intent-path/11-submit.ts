import type pg from 'pg';
import { faultPoint, logEvent } from '@clawd402/protocol';
import type { Hex } from 'viem';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { IntentRecord } from '../domain/intent.ts';
import type { Logger } from '../domain/logger.ts';
import { findIntent, transitionIntent } from '../repositories/intents-repository.ts';

export interface SubmitDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  log: Logger;
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
  const updated = await transitionIntent(deps.pool, intent.id, ['signed'], 'submitted', {
    audit: {
      actor: 'system:gateway',
      action: 'intent.submitted',
      subject: `intent:${intent.id}`,
      data: { chainId: intent.chainId, txHash: intent.txHash, route },
    },
  }).catch((error: unknown) => {
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

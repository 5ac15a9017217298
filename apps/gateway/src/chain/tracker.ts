import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { Hex, TransactionReceipt } from 'viem';
import { findAbandonedApprovals, findInFlight, listAttempts, transitionIntent, type IntentRecord } from '../repositories/intents-repository.ts';
import { closeSpend, findUnsettledSpend } from '../repositories/spend-repository.ts';
import type { IntentPipeline } from '../pipeline/intent-pipeline.ts';
import type { ChainRegistry } from './chain-registry.ts';
import type { NonceReconciler, ReconcileReport } from './reconciler.ts';

/** A `signed` intent whose broadcast has not been recorded for this long is broadcast again. */
const REBROADCAST_AFTER_MS = 3_000;
/** An in-flight intent not settled for this long gets its receipt looked up directly (missed blocks, restarts). */
const SWEEP_AFTER_MS = 30_000;
const SWEEP_EVERY_TICKS = 20;
/** An intent still `approved` after this long lost its signing lane (its process died): it fails closed. */
const ABANDONED_AFTER_MS = 10 * 60_000;
/** Blocks read per chain per tick, at most (catching up after a pause happens over several ticks). */
const MAX_BLOCKS_PER_TICK = 50;
const BATCH = 200;
const PARALLEL = 8;

/**
 * Settles in-flight intents from the chain. Block-driven: each tick reads the blocks mined since the last one, finds
 * the in-flight intents whose transactions they contain (one indexed query per block) and settles them from their
 * receipts — RPC cost grows with blocks and with our own transactions, not with how long transactions wait. A slow
 * sweep looks up receipts of intents in flight for long (a restart, a missed block), and `signed` intents whose
 * broadcast failed are broadcast again. Every gateway process runs one; transitions are compare-and-set, so several
 * trackers never settle an intent twice.
 */
export class ReceiptTracker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly lastBlock = new Map<number, bigint>();
  private ticks = 0;

  constructor(
    private readonly deps: { pool: pg.Pool; chains: ChainRegistry; pipeline: IntentPipeline; log: FastifyBaseLogger; reconciler?: NonceReconciler },
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      this.running = this.poll()
        .catch((error: unknown) => this.deps.log.error({ err: error }, 'receipt tracker poll failed'))
        .finally(() => {
          this.running = null;
          if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass over every chain. Exposed for tests. */
  async poll(): Promise<void> {
    const sweep = this.ticks % SWEEP_EVERY_TICKS === 0;
    // The first sweep after start looks at everything in flight: blocks mined while no tracker ran are not re-read.
    const sweepAge = this.ticks === 0 ? 0 : SWEEP_AFTER_MS;
    this.ticks += 1;
    for (const chainId of this.deps.chains.chainIds) {
      await this.followBlocks(chainId);
      const stale = await findInFlight(this.deps.pool, chainId, { status: 'signed', olderThanMs: REBROADCAST_AFTER_MS, limit: BATCH });
      await this.inParallel(stale, (intent) => this.checkOne(intent));
      if (sweep) {
        const old = await findInFlight(this.deps.pool, chainId, { status: 'submitted', olderThanMs: sweepAge, limit: BATCH });
        await this.inParallel(old, (intent) => this.checkOne(intent));
      }
    }
    if (sweep) {
      await this.failAbandoned(ABANDONED_AFTER_MS);
      await this.reconcileSpend();
      await this.reconcile();
    }
  }

  /**
   * One pass of the nonce reconciler (deadlines, stuck and dropped transactions, nonce gaps: reconciler.ts), settling
   * with this tracker's receipt checks. Runs on every sweep; exposed for tests.
   */
  async reconcile(): Promise<ReconcileReport | null> {
    return this.deps.reconciler ? this.deps.reconciler.run((intent) => this.checkOne(intent)) : null;
  }

  /** Fail intents approved long ago that never got signed (see findAbandonedApprovals). Exposed for tests. */
  async failAbandoned(olderThanMs: number): Promise<number> {
    let failed = 0;
    for (const id of await findAbandonedApprovals(this.deps.pool, olderThanMs, BATCH)) {
      const row = await transitionIntent(this.deps.pool, id, ['approved'], 'failed', {
        fields: { error_code: 'signing_abandoned', error_message: 'The intent was approved but its signing never completed; nothing was signed.' },
        audit: { actor: 'system:tracker', action: 'intent.failed', subject: `intent:${id}`, data: { code: 'signing_abandoned' } },
      });
      if (row) {
        failed += 1;
        await closeSpend(this.deps.pool, id);
      }
    }
    if (failed > 0) this.deps.log.warn({ failed }, 'approved intents that were never signed failed closed');
    return failed;
  }

  private async followBlocks(chainId: number): Promise<void> {
    const client = this.deps.chains.client(chainId);
    const head = await client.getBlockNumber({ cacheTime: 0 });
    const last = this.lastBlock.get(chainId) ?? head - 1n;
    const until = head - last > MAX_BLOCKS_PER_TICK ? last + BigInt(MAX_BLOCKS_PER_TICK) : head;
    for (let number = last + 1n; number <= until; number += 1n) {
      const block = await client.getBlock({ blockNumber: number });
      if (block.transactions.length > 0) {
        const mined = await findInFlight(this.deps.pool, chainId, { txHashes: block.transactions, limit: block.transactions.length });
        await this.inParallel(mined, (intent) => this.checkOne(intent));
      }
      this.lastBlock.set(chainId, number);
    }
  }

  private async inParallel(intents: IntentRecord[], fn: (intent: IntentRecord) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < intents.length; i += PARALLEL) await Promise.all(intents.slice(i, i + PARALLEL).map(fn));
  }

  /**
   * Settle one intent from the receipt of whichever of its transactions was mined (its current one, or — after a
   * speed-up or cancellation — an earlier one), or broadcast it again if it is `signed` and none was. True when settled.
   */
  private async checkOne(intent: IntentRecord): Promise<boolean> {
    const attempts = intent.replacements > 0 ? await listAttempts(this.deps.pool, intent.id) : [];
    const candidates = attempts.length > 0 ? attempts.map((a) => ({ hash: a.txHash, kind: a.kind })) : [{ hash: intent.txHash!, kind: 'original' as const }];
    for (const candidate of candidates) {
      let receipt: TransactionReceipt | null = null;
      try {
        receipt = await this.deps.chains.client(intent.chainId).getTransactionReceipt({ hash: candidate.hash as Hex });
      } catch (error) {
        if ((error as Error).name !== 'TransactionReceiptNotFoundError') {
          this.deps.log.warn({ err: error, intentId: intent.id }, 'receipt lookup failed');
          return false;
        }
      }
      if (receipt) {
        await this.settle(intent, receipt, candidate.kind);
        return true;
      }
    }
    if (intent.status === 'signed') await this.deps.pipeline.submitSigned(intent);
    return false;
  }

  private async settle(intent: IntentRecord, receipt: TransactionReceipt, kind: 'original' | 'speedup' | 'cancel' | 'fill' = 'original'): Promise<void> {
    if (kind === 'cancel') return this.settleCancelled(intent, receipt);
    const success = receipt.status === 'success';
    const moved = await transitionIntent(this.deps.pool, intent.id, ['signed', 'submitted'], success ? 'confirmed' : 'failed', {
      fields: {
        tx_hash: receipt.transactionHash,
        block_number: receipt.blockNumber,
        gas_used: receipt.gasUsed,
        effective_gas_price: receipt.effectiveGasPrice,
        raw_tx: null,
        ...(success ? {} : { error_code: 'transaction_reverted', error_message: 'The transaction was mined but reverted.' }),
      },
      detail: { blockNumber: receipt.blockNumber.toString() },
      audit: {
        actor: 'system:tracker',
        action: success ? 'intent.confirmed' : 'intent.failed',
        subject: `intent:${intent.id}`,
        data: {
          chainId: intent.chainId,
          txHash: receipt.transactionHash,
          blockNumber: receipt.blockNumber.toString(),
          gasUsed: receipt.gasUsed.toString(),
          effectiveGasPrice: receipt.effectiveGasPrice.toString(),
          status: receipt.status,
        },
      },
    });
    // True the reservation up to what the transaction really cost (the sweep retries if this fails).
    if (moved) await closeSpend(this.deps.pool, intent.id).catch((error: unknown) => this.deps.log.error({ err: error, intentId: intent.id }, 'could not settle spend'));
  }

  /**
   * The intent's cancellation was mined: it ends `cancelled` — or `expired`, when its deadline asked for the
   * cancellation — having moved nothing; its spend is trued up to the fee the cancellation cost.
   */
  private async settleCancelled(intent: IntentRecord, receipt: TransactionReceipt): Promise<void> {
    const expired = intent.cancelReason === 'deadline';
    const moved = await transitionIntent(this.deps.pool, intent.id, ['signed', 'submitted'], expired ? 'expired' : 'cancelled', {
      fields: {
        tx_hash: receipt.transactionHash,
        block_number: receipt.blockNumber,
        gas_used: receipt.gasUsed,
        effective_gas_price: receipt.effectiveGasPrice,
        raw_tx: null,
        ...(expired ? { error_code: 'deadline_passed', error_message: 'The deadline passed before the transaction was mined; it was cancelled.' } : {}),
      },
      detail: { blockNumber: receipt.blockNumber.toString(), cancellation: receipt.transactionHash },
      audit: {
        actor: 'system:tracker',
        action: expired ? 'intent.expired' : 'intent.cancelled',
        subject: `intent:${intent.id}`,
        data: {
          chainId: intent.chainId,
          txHash: receipt.transactionHash,
          blockNumber: receipt.blockNumber.toString(),
          gasUsed: receipt.gasUsed.toString(),
          effectiveGasPrice: receipt.effectiveGasPrice.toString(),
          reason: intent.cancelReason,
        },
      },
    });
    if (moved) await closeSpend(this.deps.pool, intent.id).catch((error: unknown) => this.deps.log.error({ err: error, intentId: intent.id }, 'could not settle spend'));
  }

  /**
   * Close the spend of intents that ended while their spend stayed open (a process died between the two writes, or
   * the write failed): released if they never reached the chain, trued up from the receipt if they did.
   */
  async reconcileSpend(): Promise<number> {
    let closed = 0;
    for (const { id } of await findUnsettledSpend(this.deps.pool, BATCH)) {
      if (await closeSpend(this.deps.pool, id)) closed += 1;
    }
    return closed;
  }
}

import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { Hex, TransactionReceipt } from 'viem';
import { withTransaction } from '../db/pool.ts';
import { appendAudit } from '../repositories/audit-repository.ts';
import { findInFlight, transitionIntent, type IntentRecord } from '../repositories/intents-repository.ts';
import type { IntentPipeline } from '../pipeline/intent-pipeline.ts';
import type { ChainRegistry } from './chain-registry.ts';

const REBROADCAST_AFTER_MS = 3_000;
const BATCH = 200;
const PARALLEL = 8;

/**
 * Follows in-flight intents to their receipts: `submitted` (or `signed` whose broadcast was lost) → `confirmed` or
 * `failed`, and rebroadcasts `signed` transactions whose broadcast failed. Every gateway process runs one; all
 * transitions are compare-and-set, so several trackers never settle an intent twice.
 */
export class ReceiptTracker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly deps: { pool: pg.Pool; chains: ChainRegistry; pipeline: IntentPipeline; log: FastifyBaseLogger },
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
    for (const chainId of this.deps.chains.chainIds) {
      const intents = await findInFlight(this.deps.pool, chainId, BATCH);
      for (let i = 0; i < intents.length; i += PARALLEL) {
        await Promise.all(intents.slice(i, i + PARALLEL).map((intent) => this.check(intent)));
      }
    }
  }

  private async check(intent: IntentRecord): Promise<void> {
    const client = this.deps.chains.client(intent.chainId);
    let receipt: TransactionReceipt | null = null;
    try {
      receipt = await client.getTransactionReceipt({ hash: intent.txHash as Hex });
    } catch (error) {
      if ((error as Error).name !== 'TransactionReceiptNotFoundError') {
        this.deps.log.warn({ err: error, intentId: intent.id }, 'receipt lookup failed');
        return;
      }
    }
    if (receipt) {
      await this.settle(intent, receipt);
      return;
    }
    if (intent.status === 'signed' && Date.now() - intent.updatedAt.getTime() > REBROADCAST_AFTER_MS) {
      await this.deps.pipeline.submitSigned(intent);
    }
  }

  private async settle(intent: IntentRecord, receipt: TransactionReceipt): Promise<void> {
    const success = receipt.status === 'success';
    await withTransaction(this.deps.pool, async (db) => {
      const row = await transitionIntent(
        db,
        intent.id,
        ['signed', 'submitted'],
        success ? 'confirmed' : 'failed',
        {
          block_number: receipt.blockNumber,
          gas_used: receipt.gasUsed,
          effective_gas_price: receipt.effectiveGasPrice,
          raw_tx: null,
          ...(success ? {} : { error_code: 'transaction_reverted', error_message: 'The transaction was mined but reverted.' }),
        },
        { blockNumber: receipt.blockNumber.toString() },
      );
      if (!row) return;
      await appendAudit(db, {
        actor: 'system:tracker',
        action: success ? 'intent.confirmed' : 'intent.failed',
        subject: `intent:${intent.id}`,
        data: {
          chainId: intent.chainId,
          txHash: intent.txHash,
          blockNumber: receipt.blockNumber.toString(),
          gasUsed: receipt.gasUsed.toString(),
          effectiveGasPrice: receipt.effectiveGasPrice.toString(),
          status: receipt.status,
        },
      });
    });
  }
}

import type pg from 'pg';
import type { Address } from 'viem';
import { Clawd402Error } from '@clawd402/protocol';
import type { SubmissionConfig } from '../config.ts';
import type { Logger } from '../domain/logger.ts';
import { withTransaction } from '../db/pool.ts';
import {
  findInFlight,
  findNonceHolder,
  findOverdueInFlight,
  transitionIntent,
  type IntentRecord,
} from '../repositories/intents-repository.ts';
import { listNonceRows, lockNonceRow, raiseNextNonce } from '../repositories/nonces-repository.ts';
import { closeSpend } from '../repositories/spend-repository.ts';
import type { ChainRegistry } from './chain-registry.ts';
import type { Submission } from './submission.ts';

/** Settle an intent from whichever of its transactions was mined; true when it did (the tracker's check). */
export type SettleCheck = (intent: IntentRecord) => Promise<boolean>;

const BATCH = 100;
/** Nonces looked at per address per pass, at most (a longer gap closes over several passes). */
const MAX_GAP_PER_PASS = 32;
const ACTOR = 'system:reconciler' as const;

export interface ReconcileReport {
  expired: number;
  rebroadcast: number;
  spedUp: number;
  dropped: number;
  filled: number;
  resynced: number;
}

/**
 * Keeps addresses moving (docs/submission.md). Each pass, per chain:
 *  1. deadlines — in-flight intents past their deadline get a cancellation (they end `expired` if it is mined);
 *  2. stuck and dropped — transactions pending longer than SUBMISSION_STUCK_AFTER_SECONDS: settled if one of their
 *     transactions was mined; `dropped` if their nonce was used by some other transaction; broadcast again if the
 *     public mempool lost them; sped up (at most SUBMISSION_MAX_AUTO_SPEEDUPS times) if they wait with too low fees;
 *  3. nonces — per address, Postgres against the chain: a chain that counts more than Postgres handed out ("nonce too
 *     low": the key signed elsewhere) raises the row; a nonce missing from the public mempool below the ones waiting
 *     ("nonce too high" for every later one) is broadcast again from its intent, or — when no live intent holds it —
 *     filled with a zero-value self-transfer. So no address stays jammed behind a lost nonce.
 * Every gateway process may run it: replacements and fills are decided under row locks and compare-and-set. It is not
 * a worker of its own: the receipt tracker runs a pass on every sweep (every 20th tick), settling with its receipt checks.
 */
export class NonceReconciler {
  private readonly warned = new Set<string>();

  constructor(
    private readonly deps: { pool: pg.Pool; chains: ChainRegistry; submission: Submission; log: Logger },
    private readonly settings: Pick<SubmissionConfig, 'stuckAfterMs' | 'maxAutoSpeedUps'>,
  ) {}

  /** One pass over every chain. `settle` looks an intent's receipts up (and settles it). */
  async run(settle: SettleCheck): Promise<ReconcileReport> {
    const report: ReconcileReport = { expired: 0, rebroadcast: 0, spedUp: 0, dropped: 0, filled: 0, resynced: 0 };
    for (const chainId of this.deps.chains.chainIds) {
      await this.step(() => this.cancelOverdue(chainId, report), chainId, 'deadlines');
      await this.step(() => this.unstick(chainId, settle, report), chainId, 'stuck transactions');
      await this.step(() => this.closeGaps(chainId, report), chainId, 'nonce gaps');
    }
    return report;
  }

  private async step(fn: () => Promise<void>, chainId: number, what: string): Promise<void> {
    await fn().catch((error: unknown) => this.deps.log.error({ err: error, chainId }, `reconciler: ${what} failed`));
  }

  private async cancelOverdue(chainId: number, report: ReconcileReport): Promise<void> {
    for (const intent of await findOverdueInFlight(this.deps.pool, chainId, BATCH)) {
      try {
        await this.deps.submission.cancel(intent.id, { actor: ACTOR, reason: 'deadline' });
        report.expired += 1;
      } catch (error) {
        this.warnOnce(
          `deadline:${intent.id}`,
          { err: error, intentId: intent.id },
          'could not cancel an intent past its deadline; retrying next pass',
        );
      }
    }
  }

  private async unstick(chainId: number, settle: SettleCheck, report: ReconcileReport): Promise<void> {
    const { chains, submission } = this.deps;
    const stuck = await findInFlight(this.deps.pool, chainId, {
      olderThanMs: this.settings.stuckAfterMs,
      limit: BATCH,
    });
    const mined = new Map<string, number>();
    for (const intent of stuck) {
      if (intent.nonce === null || !intent.from) continue;
      if (await settle(intent)) continue;
      const from = intent.from as Address;
      if (!mined.has(from)) mined.set(from, await chains.latestNonce(chainId, from));
      if (intent.nonce < mined.get(from)!) {
        // Its nonce is used and none of its transactions was mined: another transaction took the nonce.
        if (await this.markDropped(intent)) report.dropped += 1;
        continue;
      }
      if (intent.cancelReason === null && intent.deadline !== null && intent.deadline.getTime() <= Date.now()) continue; // step 1's
      const route = intent.submitRoute ?? 'public';
      if (route === 'public') {
        const seen = await chains.findTransaction(chainId, intent.txHash as `0x${string}`);
        if (seen === undefined) continue; // RPC down: next pass
        if (seen === null) {
          const outcome = await submission.rebroadcast(intent);
          if (outcome === 'sent') report.rebroadcast += 1;
          if (outcome !== 'underpriced') continue;
        }
      } else {
        // The relay's pool is not visible: hand it the transaction again (relays take duplicates), then speed up.
        const outcome = await submission.rebroadcast(intent);
        if (outcome === 'sent') {
          report.rebroadcast += 1;
          continue;
        }
      }
      if (await this.autoSpeedUp(intent)) report.spedUp += 1;
    }
  }

  private async autoSpeedUp(intent: IntentRecord, force = false): Promise<boolean> {
    if (!force && intent.replacements >= this.settings.maxAutoSpeedUps) {
      this.warnOnce(
        `stuck:${intent.id}:${intent.replacements}`,
        { intentId: intent.id, replacements: intent.replacements },
        'transaction stuck after the automatic speed-ups; an operator can speed it up or cancel it',
      );
      return false;
    }
    try {
      // Only the transaction judged stuck: if another process replaced it meanwhile, nothing more is signed.
      await this.deps.submission.speedUp(intent.id, { actor: ACTOR, expectTxHash: intent.txHash ?? undefined });
      this.deps.log.info({ intentId: intent.id, chainId: intent.chainId }, 'stuck transaction sped up');
      return true;
    } catch (error) {
      if (error instanceof Clawd402Error && ['intent_not_in_flight', 'deadline_passed'].includes(error.code))
        return false;
      this.warnOnce(
        `speedup:${intent.id}:${intent.replacements}`,
        { err: error, intentId: intent.id },
        'could not speed up a stuck transaction',
      );
      return false;
    }
  }

  private async markDropped(intent: IntentRecord): Promise<boolean> {
    const moved = await transitionIntent(this.deps.pool, intent.id, ['signed', 'submitted'], 'dropped', {
      fields: {
        raw_tx: null,
        error_code: 'transaction_dropped',
        error_message:
          "The intent's transaction was dropped and its nonce was used by another transaction; the intent did not execute.",
      },
      audit: {
        actor: ACTOR,
        action: 'intent.dropped',
        subject: `intent:${intent.id}`,
        data: { chainId: intent.chainId, nonce: intent.nonce, txHash: intent.txHash },
      },
    });
    if (!moved) return false;
    await closeSpend(this.deps.pool, intent.id).catch((error: unknown) =>
      this.deps.log.error({ err: error, intentId: intent.id }, 'could not release the reservation'),
    );
    this.deps.log.warn(
      { intentId: intent.id, chainId: intent.chainId, nonce: intent.nonce },
      'transaction dropped: its nonce was used by another transaction',
    );
    return true;
  }

  private async closeGaps(chainId: number, report: ReconcileReport): Promise<void> {
    const { chains, submission, pool, log } = this.deps;
    for (const { address, nextNonce } of await listNonceRows(pool, chainId)) {
      const from = address as Address;
      const [latest, pending] = await Promise.all([
        chains.latestNonce(chainId, from),
        chains.pendingNonce(chainId, from),
      ]);
      if (pending > nextNonce) {
        // "Nonce too low" for whatever Postgres would hand out next: the key signed elsewhere. Follow the chain.
        const raised = await withTransaction(pool, async (client) => {
          const next = await lockNonceRow(client, chainId, address);
          return next !== null && next < pending ? raiseNextNonce(client, chainId, address, pending, ACTOR) : false;
        });
        if (raised) {
          report.resynced += 1;
          log.warn(
            { chainId, address, from: nextNonce, to: pending },
            'nonce drift: the chain counts more transactions than the gateway signed',
          );
        }
        continue;
      }
      if (latest >= nextNonce) continue; // everything handed out is mined
      // Nonces from `pending` up are missing from the public mempool's run: every later transaction waits on them.
      for (let nonce = Math.max(pending, latest); nonce < nextNonce && nonce < pending + MAX_GAP_PER_PASS; nonce += 1) {
        const holder = await findNonceHolder(pool, chainId, address, nonce);
        if (holder) {
          if ((holder.submitRoute ?? 'public') === 'private') continue; // invisible here by design; unstick() watches it
          if (holder.cancelReason === null && holder.deadline !== null && holder.deadline.getTime() <= Date.now())
            continue; // step 1's
          const outcome = await submission.rebroadcast(holder);
          if (outcome === 'sent') {
            report.rebroadcast += 1;
            log.info({ chainId, address, nonce, intentId: holder.id }, 'nonce gap: transaction broadcast again');
          } else if (outcome === 'underpriced' && (await this.autoSpeedUp(holder, true))) {
            report.spedUp += 1;
          }
          continue;
        }
        try {
          const hash = await submission.fillNonce(chainId, from, nonce, ACTOR);
          if (hash) {
            report.filled += 1;
            log.warn({ chainId, address, nonce, txHash: hash }, 'nonce gap filled with a zero-value self-transfer');
          }
        } catch (error) {
          this.warnOnce(
            `fill:${chainId}:${address}:${nonce}`,
            { err: error, chainId, address, nonce },
            'could not fill a nonce gap; retrying next pass',
          );
        }
      }
    }
  }

  private warnOnce(key: string, obj: object, message: string): void {
    if (this.warned.has(key)) return;
    if (this.warned.size > 10_000) this.warned.clear();
    this.warned.add(key);
    this.deps.log.warn(obj, message);
  }
}

import type pg from 'pg';
import type { Logger } from '../domain/logger.ts';
import type { Address, Hex } from 'viem';
import { Clawd402Error } from '@clawd402/protocol';
import type { SignerClient, TicketIssuer } from '@clawd402/signer-client';
import type { SubmissionConfig } from '../config.ts';
import type { Actor } from '../repositories/audit-repository.ts';
import { findIntent, transitionIntent, type IntentRecord } from '../repositories/intents-repository.ts';
import { closeSpend } from '../repositories/spend-repository.ts';
import { signNonceFill, signReplacement } from './replacements.ts';
import type { SignDeps } from './ticketed-signing.ts';
import { isAlreadyKnown, isNonceTooLow, isUnderpriced, type ChainRegistry } from './chain-registry.ts';

export type CancelReason = 'agent' | 'operator' | 'deadline';

/** What a rebroadcast came to. */
export type RebroadcastOutcome = 'sent' | 'known' | 'underpriced' | 'nonce_used' | 'failed';

export interface SubmissionDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  tickets: TicketIssuer;
  signer: SignerClient;
  log: Logger;
  settings: Pick<SubmissionConfig, 'feeBumpPercent'>;
}

/** Statuses an intent can still be cancelled from without a transaction (nothing signed yet). */
const UNSIGNED = ['pending_approval', 'approved'] as const;

/**
 * Cancellation, speed-up and rebroadcast of intents' transactions (docs/submission.md). A replacement keeps the
 * intent's nonce and route (public mempool or private relay), raises both EIP-1559 fees by at least the configured bump
 * (≥ 10%, the replacement minimum), stays under the chain's fee caps, and is signed through the normal ticket → signer
 * path and audited (ticketed-signing.ts, replacements.ts). Whichever of an intent's transactions is mined settles it (intent-path/12-track.ts, 13-settle.ts).
 */
export class Submission {
  /**
   * Signing deps per kind of replacement: the signer refuses a second, different transaction at a nonce it already
   * signed unless the ticket says `replace` (speed-up) or `cancel` (a zero-value self-transfer: a cancellation or a
   * nonce filler, which may sit at a nonce whose earlier signature was never stored).
   */
  private readonly replace: SignDeps;
  private readonly cancelling: SignDeps;

  constructor(private readonly deps: SubmissionDeps) {
    const sign = { pool: deps.pool, chains: deps.chains, signer: deps.signer, log: deps.log };
    this.replace = { ...sign, tickets: deps.tickets.withNonceMode('replace') };
    this.cancelling = { ...sign, tickets: deps.tickets.withNonceMode('cancel') };
  }

  /**
   * Cancel an intent. Not yet signed (`pending_approval`, `approved`): it ends `cancelled` at once and its reservation
   * is released. Signed or submitted: a zero-value transfer to the key itself is signed for its nonce and broadcast on
   * its route; the intent ends `cancelled` (or `expired`, when the deadline asked) if that one is mined, `confirmed`
   * if the original wins the race. `pending` is true while the cancellation waits to be mined. Already cancelled:
   * answered as it is. Ended otherwise: `intent_not_cancellable`.
   */
  async cancel(
    intentId: string,
    by: { actor: Actor; reason: CancelReason },
  ): Promise<{ intent: IntentRecord; pending: boolean }> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const intent = await findIntent(this.deps.pool, intentId);
      if (!intent) throw new Clawd402Error('not_found', 'No such intent.');
      if (intent.status === 'cancelled') return { intent, pending: false };
      if ((UNSIGNED as readonly string[]).includes(intent.status)) {
        const cancelled = await transitionIntent(this.deps.pool, intent.id, UNSIGNED, 'cancelled', {
          detail: { reason: by.reason },
          audit: {
            actor: by.actor,
            action: 'intent.cancelled',
            subject: `intent:${intent.id}`,
            data: { reason: by.reason, before: intent.status },
          },
        });
        if (!cancelled) continue; // signed meanwhile: cancel it on chain
        await closeSpend(this.deps.pool, intent.id).catch((error: unknown) =>
          this.deps.log.error({ err: error, intentId }, 'could not release the reservation'),
        );
        return { intent: cancelled, pending: false };
      }
      if (intent.status !== 'signed' && intent.status !== 'submitted') {
        throw new Clawd402Error(
          'intent_not_cancellable',
          `The intent is ${intent.status}; there is nothing left to cancel.`,
          { details: { status: intent.status } },
        );
      }
      if (intent.txHash === null) {
        // A signature (typed data, message) is final once signed: there is no transaction to replace.
        throw new Clawd402Error(
          'intent_not_cancellable',
          'The intent is a signature, already handed out; there is no transaction to cancel.',
          { details: { status: intent.status } },
        );
      }
      if (intent.cancelReason !== null) return { intent, pending: true }; // a cancellation is already out
      const market = await this.deps.chains.marketFees(intent.chainId);
      const replaced = await signReplacement(this.cancelling, {
        intentId: intent.id,
        kind: 'cancel',
        actor: by.actor,
        cancelReason: by.reason,
        market,
        bumpPercent: this.deps.settings.feeBumpPercent,
      });
      if (!replaced) continue; // settled meanwhile: answer with what it became
      return { intent: await this.publish(replaced, by.actor), pending: true };
    }
    throw new Error(`intent ${intentId} kept changing while it was being cancelled`);
  }

  /**
   * Sign the intent's transaction again at the same nonce with both fees raised, and broadcast it on the same route.
   * A pending cancellation is sped up the same way. Refused for an intent with nothing pending
   * (`intent_not_in_flight`), after its deadline (`deadline_passed`) and above the fee caps (`fee_cap_exceeded`).
   */
  async speedUp(intentId: string, by: { actor: Actor; expectTxHash?: string }): Promise<IntentRecord> {
    const intent = await findIntent(this.deps.pool, intentId);
    if (!intent) throw new Clawd402Error('not_found', 'No such intent.');
    const notInFlight = (status: string): Clawd402Error =>
      new Clawd402Error('intent_not_in_flight', `The intent is ${status}; there is nothing to speed up.`, {
        details: { status },
      });
    if (intent.status !== 'signed' && intent.status !== 'submitted') throw notInFlight(intent.status);
    const market = await this.deps.chains.marketFees(intent.chainId);
    const replaced = await signReplacement(this.replace, {
      intentId: intent.id,
      kind: 'speedup',
      actor: by.actor,
      market,
      bumpPercent: this.deps.settings.feeBumpPercent,
      expectTxHash: by.expectTxHash,
    });
    if (!replaced) {
      const now = await findIntent(this.deps.pool, intentId);
      if (now && (now.status === 'signed' || now.status === 'submitted')) return now; // replaced by another process meanwhile
      throw notInFlight(now?.status ?? 'gone');
    }
    return this.publish(replaced, by.actor);
  }

  /**
   * Broadcast the intent's current transaction again on its route (a node may have dropped it from its mempool).
   * Never after the deadline, unless what is current is the cancellation the deadline asked for.
   */
  async rebroadcast(intent: IntentRecord): Promise<RebroadcastOutcome> {
    if (!intent.rawTx) return 'failed';
    if (intent.cancelReason === null && intent.deadline !== null && intent.deadline.getTime() <= Date.now())
      return 'failed';
    try {
      return await this.deps.chains.broadcast(intent.chainId, intent.rawTx as Hex, intent.submitRoute ?? 'public');
    } catch (error) {
      if (isUnderpriced(error)) return 'underpriced';
      if (isNonceTooLow(error)) return 'nonce_used';
      this.deps.log.warn({ err: error, intentId: intent.id, chainId: intent.chainId }, 'rebroadcast failed');
      return 'failed';
    }
  }

  /** Fill a consumed nonce nobody holds with a zero-value self-transfer and broadcast it publicly (see signNonceFill). */
  async fillNonce(chainId: number, address: Address, nonce: number, actor: Actor): Promise<Hex | null> {
    const market = await this.deps.chains.marketFees(chainId);
    const fill = await signNonceFill(this.cancelling, {
      chainId,
      address,
      nonce,
      market,
      bumpPercent: this.deps.settings.feeBumpPercent,
      actor,
    });
    if (!fill) return null;
    try {
      await this.deps.chains.broadcast(chainId, fill.raw, 'public');
    } catch (error) {
      // Signed and recorded: the next reconciler pass sees the nonce still missing and signs a higher filler.
      this.deps.log.warn({ err: error, chainId, address, nonce }, 'nonce filler broadcast failed');
    }
    return fill.txHash;
  }

  /** Broadcast a freshly signed replacement; a `signed` intent whose broadcast worked becomes `submitted`. */
  private async publish(intent: IntentRecord, actor: Actor): Promise<IntentRecord> {
    try {
      await this.deps.chains.broadcast(intent.chainId, intent.rawTx as Hex, intent.submitRoute ?? 'public');
    } catch (error) {
      // Stored and audited: the reconciler rebroadcasts it (or speeds it up) on its next pass.
      if (!isAlreadyKnown(error)) {
        this.deps.log.warn(
          { err: error, intentId: intent.id, chainId: intent.chainId },
          'replacement broadcast failed; the reconciler will retry',
        );
        return intent;
      }
    }
    if (intent.status !== 'signed') return intent;
    const submitted = await transitionIntent(this.deps.pool, intent.id, ['signed'], 'submitted', {
      audit: {
        actor,
        action: 'intent.submitted',
        subject: `intent:${intent.id}`,
        data: { chainId: intent.chainId, txHash: intent.txHash, route: intent.submitRoute ?? 'public' },
      },
    }).catch((error: unknown) => {
      this.deps.log.error({ err: error, intentId: intent.id }, 'could not record submission');
      return null;
    });
    return submitted ?? intent;
  }
}

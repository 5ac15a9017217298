import type pg from 'pg';
import { Clawd402Error, SignerError, logEvent, type LatchState } from '@clawd402/protocol';
import type { SignerClient } from '@clawd402/signer-client';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { Submission } from '../chain/submission.ts';
import { withTransaction } from '../db/pool.ts';
import type { HaltView, PauseScope } from '../domain/halts.ts';
import type { Logger } from '../domain/logger.ts';
import type { UserPrincipal } from '../domain/principal.ts';
import { appendAudit, type Actor } from '../repositories/audit-repository.ts';
import {
  addReleaseVote,
  deletePause,
  engageKillSwitch,
  insertPause,
  listPauses,
  pauseTargetExists,
  readKillSwitch,
  releaseKillSwitch,
  type KillSwitchRecord,
  type PauseRecord,
} from '../repositories/halts-repository.ts';
import { findInFlight } from '../repositories/intents-repository.ts';

export type { KillSwitchRecord, PauseRecord } from '../repositories/halts-repository.ts';

/** What an owner types to engage and to release (the body's `confirm`): a deliberate act, never a stray click. */
export const ENGAGE_CONFIRMATION = 'ENGAGE KILL SWITCH';
export const RELEASE_CONFIRMATION = 'RELEASE KILL SWITCH';
const IN_FLIGHT_PAGE = 500;

export interface KillSwitchDeps {
  pool: pg.Pool;
  signer: SignerClient;
  chains: ChainRegistry;
  submission: Submission;
  /** The TOTP step-up of the acting owner (SessionsService.stepUp). */
  stepUp: (user: UserPrincipal, code: string | undefined) => Promise<void>;
  log: Logger;
  settings: { releaseOwners: number };
}

export interface EngageResult {
  killSwitch: KillSwitchRecord;
  /** The signer's latch after engaging, or null when the signer could not be told (every process retries). */
  signer: LatchState | null;
  /** In-flight transactions a cancellation was signed and broadcast for, and those that could not be cancelled. */
  cancellations: { signed: number; failed: number };
}

/**
 * The kill switch and pauses (docs/killswitch.md). Postgres holds the truth (migrations/0016_killswitch.sql); this
 * class keeps this process's view of it in memory for the intent path's first check ({@link HaltView}), follows it on
 * every NOTIFY and every half second (the `halts-follower` worker calls {@link refresh}), and makes sure the signer
 * this process talks to is latched whenever the switch is engaged — so a process that missed the engagement latches
 * the signer on its next refresh. The signing stage does not trust this view alone: it re-reads the switch inside its
 * own transaction (intent-path/10-sign.ts).
 */
export class KillSwitchService implements HaltView {
  private engaged = false;
  private paused = new Set<string>();
  /** The engagement (its `engaged_at`) this process has latched its signer for. */
  private latchedFor: string | null = null;
  /**
   * Refresh, engage and release of this process run one at a time: a refresh that read the switch before an engage or
   * release committed must not write its stale view over theirs (nor latch the signer again after a release).
   */
  private serial: Promise<unknown> = Promise.resolve();

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn, fn);
    this.serial = run.catch(() => {});
    return run;
  }

  constructor(private readonly deps: KillSwitchDeps) {}

  killSwitchEngaged(): boolean {
    return this.engaged;
  }

  isPaused(scope: PauseScope): boolean {
    return this.paused.has(scope);
  }

  /** Re-read the switch and the pauses; while engaged, latch this process's signer once per engagement. */
  async refresh(): Promise<void> {
    return this.exclusive(() => this.refreshNow());
  }

  private async refreshNow(): Promise<void> {
    const [state, pauses] = await Promise.all([readKillSwitch(this.deps.pool), listPauses(this.deps.pool)]);
    this.engaged = state.engaged;
    this.paused = new Set(pauses.map((p) => p.scope));
    if (!state.engaged) {
      this.latchedFor = null;
      return;
    }
    const engagement = state.engagedAt?.toISOString() ?? 'engaged';
    if (this.latchedFor === engagement) return;
    try {
      await this.latchSigner(state.reason ?? 'kill switch');
      this.latchedFor = engagement;
    } catch (error) {
      // Signing is already refused here (and re-checked in the signing transaction); the next refresh tries again.
      logEvent(this.deps.log, 'signer.latch_failed', { err: error });
    }
  }

  /** The switch, the pauses and the signer's latch (null when the signer does not answer). */
  async status(): Promise<{ killSwitch: KillSwitchRecord; pauses: PauseRecord[]; signer: LatchState | null }> {
    const [killSwitch, pauses, signer] = await Promise.all([
      readKillSwitch(this.deps.pool),
      listPauses(this.deps.pool),
      this.deps.signer.latchStatus().catch(() => null),
    ]);
    return { killSwitch, pauses, signer };
  }

  /**
   * Engage: the switch in Postgres with its audit record (every process follows within a second; this one at once),
   * the signer latched, every in-flight transaction cancelled at its nonce on its own route. Engaging twice re-latches
   * and re-cancels; it is never an error.
   */
  async engage(user: UserPrincipal, input: { confirm: string; totp?: string; reason: string }): Promise<EngageResult> {
    return this.exclusive(() => this.engageNow(user, input));
  }

  private async engageNow(
    user: UserPrincipal,
    input: { confirm: string; totp?: string; reason: string },
  ): Promise<EngageResult> {
    if (input.confirm !== ENGAGE_CONFIRMATION)
      throw new Clawd402Error('killswitch_confirmation_mismatch', undefined, {
        details: { expected: ENGAGE_CONFIRMATION },
      });
    await this.deps.stepUp(user, input.totp);
    const actor: Actor = `user:${user.userId}`;
    const killSwitch = await withTransaction(this.deps.pool, async (client) => {
      const current = await readKillSwitch(client, { lock: true });
      if (current.engaged) return current;
      return engageKillSwitch(client, actor, input.reason, {
        actor,
        action: 'killswitch.engaged',
        subject: 'killswitch',
        data: { reason: input.reason },
      });
    });
    this.engaged = true;
    let signer: LatchState | null = null;
    try {
      signer = await this.latchSigner(input.reason);
      this.latchedFor = killSwitch.engagedAt?.toISOString() ?? 'engaged';
    } catch (error) {
      logEvent(this.deps.log, 'signer.latch_failed', { err: error });
    }
    const cancellations = await this.cancelInFlight(actor);
    await appendAudit(this.deps.pool, {
      actor,
      action: 'killswitch.cancellations',
      subject: 'killswitch',
      data: { ...cancellations, signerLatchId: signer?.latchId ?? null },
    }).catch((error: unknown) => this.deps.log.error({ err: error }, 'kill switch: could not audit the cancellations'));
    return { killSwitch, signer, cancellations };
  }

  /**
   * Release: the signer's latch first (it needs the owners' release authorisation, which the gateway cannot make),
   * then the switch in Postgres, audited. With KILLSWITCH_RELEASE_OWNERS=2 the first owner's request only records a
   * vote (`released: false`); a second, different owner's releases.
   */
  async release(
    user: UserPrincipal,
    input: { confirm: string; totp?: string; signerRelease?: string },
  ): Promise<{ released: boolean; votes: number; required: number; killSwitch: KillSwitchRecord }> {
    return this.exclusive(() => this.releaseNow(user, input));
  }

  private async releaseNow(
    user: UserPrincipal,
    input: { confirm: string; totp?: string; signerRelease?: string },
  ): Promise<{ released: boolean; votes: number; required: number; killSwitch: KillSwitchRecord }> {
    if (input.confirm !== RELEASE_CONFIRMATION)
      throw new Clawd402Error('killswitch_confirmation_mismatch', undefined, {
        details: { expected: RELEASE_CONFIRMATION },
      });
    await this.deps.stepUp(user, input.totp);
    const actor: Actor = `user:${user.userId}`;
    const required = this.deps.settings.releaseOwners;
    const current = await readKillSwitch(this.deps.pool);
    if (!current.engaged) throw new Clawd402Error('killswitch_not_engaged');
    const others = current.releaseVotes.filter((v) => v !== actor);
    if (others.length + 1 < required) {
      await withTransaction(this.deps.pool, (client) =>
        addReleaseVote(client, actor, {
          actor,
          action: 'killswitch.release_vote',
          subject: 'killswitch',
          data: { required },
        }),
      );
      return { released: false, votes: others.length + 1, required, killSwitch: await readKillSwitch(this.deps.pool) };
    }
    const latch = await this.deps.signer.latchStatus();
    if (latch.latched) {
      if (!input.signerRelease)
        throw new Clawd402Error('signer_latch_release_refused', undefined, { details: { latchId: latch.latchId } });
      try {
        await this.deps.signer.releaseLatch({ latchId: latch.latchId!, authorization: input.signerRelease });
      } catch (error) {
        if (error instanceof SignerError && error.code === 'latch_release_unauthorized')
          throw new Clawd402Error('signer_latch_release_refused', undefined, { details: { latchId: latch.latchId } });
        throw error;
      }
    }
    const killSwitch = await withTransaction(this.deps.pool, async (client) => {
      const locked = await readKillSwitch(client, { lock: true });
      if (!locked.engaged) return locked;
      return releaseKillSwitch(client, actor, {
        actor,
        action: 'killswitch.released',
        subject: 'killswitch',
        data: { owners: [...others, actor], signerLatchId: latch.latchId },
      });
    });
    this.engaged = false;
    this.latchedFor = null;
    return { released: true, votes: others.length + 1, required, killSwitch };
  }

  /** Pause an agent, an API key or a chain (audited); pausing what is paused answers as it is. */
  async pause(user: UserPrincipal, scope: PauseScope, reason: string): Promise<{ scope: PauseScope; paused: true }> {
    await this.assertTarget(scope);
    const actor: Actor = `user:${user.userId}`;
    await insertPause(this.deps.pool, scope, actor, reason, {
      actor,
      action: 'pause.set',
      subject: scope,
      data: { reason },
    });
    this.paused.add(scope);
    return { scope, paused: true };
  }

  /** Resume what was paused (audited); resuming what is not paused answers as it is. */
  async resume(user: UserPrincipal, scope: PauseScope): Promise<{ scope: PauseScope; paused: false }> {
    await this.assertTarget(scope);
    const actor: Actor = `user:${user.userId}`;
    await deletePause(this.deps.pool, scope, { actor, action: 'pause.lifted', subject: scope, data: {} });
    this.paused.delete(scope);
    return { scope, paused: false };
  }

  private async assertTarget(scope: PauseScope): Promise<void> {
    const chain = scope.startsWith('chain:') ? Number(scope.slice('chain:'.length)) : null;
    const exists = chain !== null ? this.deps.chains.has(chain) : await pauseTargetExists(this.deps.pool, scope);
    if (!exists) throw new Clawd402Error('not_found', `No such ${scope.slice(0, scope.indexOf(':'))}.`);
  }

  private latchSigner(reason: string): Promise<LatchState> {
    return this.deps.signer.latch(reason.slice(0, 200));
  }

  /** Cancel every signed or submitted transaction at its nonce (Submission.cancel: same route, fee bump, audited). */
  private async cancelInFlight(actor: Actor): Promise<{ signed: number; failed: number }> {
    const outcome = { signed: 0, failed: 0 };
    for (const chainId of this.deps.chains.chainIds) {
      const seen: string[] = [];
      for (;;) {
        const page = await findInFlight(this.deps.pool, chainId, { limit: IN_FLIGHT_PAGE, excludeIds: seen });
        if (page.length === 0) break;
        for (const intent of page) {
          seen.push(intent.id);
          try {
            const { pending } = await this.deps.submission.cancel(intent.id, { actor, reason: 'operator' });
            if (pending) outcome.signed += 1;
          } catch (error) {
            outcome.failed += 1;
            this.deps.log.error(
              { err: error, intentId: intent.id },
              'kill switch: could not cancel an in-flight intent',
            );
          }
        }
        if (page.length < IN_FLIGHT_PAGE) break;
      }
    }
    return outcome;
  }
}

import type pg from 'pg';
import { withTransaction } from '../db/pool.ts';
import type { Logger } from '../domain/logger.ts';
import { closeApproval, findApprovalForIntent } from '../repositories/approvals-repository.ts';
import { findPastDeadline, transitionIntent } from '../repositories/intents-repository.ts';
import { closeSpend } from '../repositories/spend-repository.ts';

const BATCH = 100;
const MESSAGE = 'The deadline passed while the intent waited for a human approval; nothing was signed.';

/**
 * Expires intents still waiting for a human approval after their deadline (a swap's is required; other intents may
 * carry one): the intent ends `expired` with `deadline_passed`, its approval closes as expired, both audited, in one
 * transaction; then its reservation goes back to the budgets. Intents already approved are the signing lane's (it
 * expires them instead of signing), and signed ones the reconciler's (it cancels them). Every gateway process runs
 * one; transitions are compare-and-set, so two sweepers never expire an intent twice, and an approval vote racing the
 * sweep either wins (the intent is then approved, and the lane expires it) or finds the intent no longer pending.
 */
export class DeadlineSweeper {
  constructor(private readonly deps: { pool: pg.Pool; log: Logger }) {}

  /** One pass; returns how many intents it expired. The `deadline-sweeper` worker's tick; tests call it directly. */
  async sweep(): Promise<number> {
    let expired = 0;
    for (const id of await findPastDeadline(this.deps.pool, BATCH)) {
      const moved = await withTransaction(this.deps.pool, async (client) => {
        const row = await transitionIntent(client, id, ['pending_approval'], 'expired', {
          fields: { error_code: 'deadline_passed', error_message: MESSAGE },
          detail: { reason: 'deadline' },
          audit: {
            actor: 'system:gateway',
            action: 'intent.expired',
            subject: `intent:${id}`,
            data: { stage: 'approval', code: 'deadline_passed' },
          },
        });
        if (row === null) return false;
        const approval = await findApprovalForIntent(client, id);
        if (approval !== null)
          await closeApproval(client, approval.id, 'expired', 'system:gateway', 'the intent passed its deadline');
        return true;
      });
      if (!moved) continue;
      expired += 1;
      await closeSpend(this.deps.pool, id).catch((error: unknown) => {
        this.deps.log.error({ err: error, intentId: id }, 'could not release the reservation; the tracker will');
      });
    }
    if (expired > 0) this.deps.log.info({ expired }, 'intents past their deadline expired before approval');
    return expired;
  }
}

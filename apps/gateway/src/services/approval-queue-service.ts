import type pg from 'pg';
import type { ApprovalService } from '../approvals/approval-service.ts';
import type { UserPrincipal } from '../domain/principal.ts';
import { findSubject } from './subjects.ts';
import {
  findApproval,
  listApprovals,
  type ApprovalRecord,
  type ApprovalStatus,
} from '../repositories/approvals-repository.ts';
import { findIntent, type IntentRecord } from '../repositories/intents-repository.ts';

export type { ApprovalRecord, ApprovalStatus } from '../repositories/approvals-repository.ts';

/** An approval with the intent it is for (null only if the intent row is gone). */
export interface QueuedApproval {
  approval: ApprovalRecord;
  intent: IntentRecord | null;
}

/**
 * The approvals queue operators work from: list and read approvals with their intents, and vote (which
 * ApprovalService decides: digest binding, eligibility, quorum).
 */
export class ApprovalQueueService {
  constructor(private readonly deps: { pool: pg.Pool; approvals: ApprovalService }) {}

  async list(options: { status?: ApprovalStatus; limit: number }): Promise<QueuedApproval[]> {
    const { pool } = this.deps;
    const approvals = await listApprovals(pool, options);
    return Promise.all(
      approvals.map(async (approval) => ({ approval, intent: await findIntent(pool, approval.intentId) })),
    );
  }

  /** The approval with this id and its intent, or `not_found` (also for an id that is not a UUID). */
  async get(id: string): Promise<QueuedApproval> {
    const approval = await this.load(id);
    return { approval, intent: await findIntent(this.deps.pool, approval.intentId) };
  }

  async vote(
    actor: UserPrincipal,
    id: string,
    vote: 'approve' | 'reject',
    options: { digest?: string; reason?: string; requestId?: string },
  ): Promise<QueuedApproval> {
    await this.load(id);
    return this.deps.approvals.vote(actor, id, vote, options);
  }

  private async load(id: string): Promise<ApprovalRecord> {
    return findSubject(id, (uuid) => findApproval(this.deps.pool, uuid), 'No such approval.');
  }
}

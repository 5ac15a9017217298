import type pg from 'pg';
import { Clawd402Error, type ApiErrorCode, type IntentStatus, type RpcErrorCode } from '@clawd402/protocol';
import type { AgentContext } from '../domain/agent.ts';
import { isUuid } from '../lib/uuid.ts';
import { findSubject } from './subjects.ts';
import { appendAudit } from '../repositories/audit-repository.ts';
import {
  findIntent,
  findIntentForAgent,
  findIntentsForAgent,
  listAttempts,
  listIntents,
  listIntentsForAgent,
  type IntentFilter,
  type IntentRecord,
  type ListCursor,
  type TransactionAttempt,
} from '../repositories/intents-repository.ts';

export type { IntentFilter, IntentRecord, ListCursor, TransactionAttempt } from '../repositories/intents-repository.ts';

/**
 * Reading intents: an agent's own (another agent's intent answers exactly like a missing one), any intent for
 * operators, and its signed transactions. Writing them is the intent pipeline's job.
 */
export class IntentsService {
  constructor(private readonly deps: { pool: pg.Pool }) {}

  /** The agent's own intent with this id, or null (also for an id that is not a UUID or another agent's intent). */
  async findForAgent(agentId: string, id: string): Promise<IntentRecord | null> {
    return isUuid(id) ? findIntentForAgent(this.deps.pool, agentId, id) : null;
  }

  /** The agent's own intents among `ids` (UUIDs), in no particular order; others' and missing ones are left out. */
  findManyForAgent(agentId: string, ids: readonly string[]): Promise<IntentRecord[]> {
    return findIntentsForAgent(this.deps.pool, agentId, ids);
  }

  /** The agent's own intent with this id, or `not_found`. */
  async getForAgent(agentId: string, id: string): Promise<IntentRecord> {
    const intent = await this.findForAgent(agentId, id);
    if (!intent) throw new Clawd402Error('not_found', 'No such intent.');
    return intent;
  }

  listForAgent(
    agentId: string,
    options: { status?: IntentStatus; limit: number; after?: ListCursor },
  ): Promise<{ items: IntentRecord[]; next: ListCursor | null }> {
    return listIntentsForAgent(this.deps.pool, agentId, options);
  }

  /** Any agent's intent (operators), or `not_found`. */
  async get(id: string): Promise<IntentRecord> {
    return findSubject(id, (uuid) => findIntent(this.deps.pool, uuid), 'No such intent.');
  }

  /** Every agent's intents, filtered, newest first (operators: GET /admin/intents). */
  list(filter: IntentFilter): Promise<{ items: IntentRecord[]; next: ListCursor | null }> {
    return listIntents(this.deps.pool, filter);
  }

  /** Every transaction signed for the intent's nonce, newest first. */
  attempts(intentId: string): Promise<TransactionAttempt[]> {
    return listAttempts(this.deps.pool, intentId);
  }

  /**
   * A refused submission leaves one trace: an audit record naming the agent, its key and the code (and, for a JSON-RPC
   * method refused as a policy bypass, the method). The incident watch counts the bypass ones (docs/incidents.md).
   */
  async auditRefusal(
    agent: Pick<AgentContext, 'agentId' | 'apiKeyId'>,
    code: ApiErrorCode | RpcErrorCode,
    extra: { method?: string } = {},
  ): Promise<void> {
    await appendAudit(this.deps.pool, {
      actor: `agent:${agent.agentId}`,
      action: 'intent.refused',
      subject: null,
      data: { apiKeyId: agent.apiKeyId, code, ...extra },
    });
  }
}

import { createHash, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { Address, Hex } from 'viem';
import {
  Clawd402Error,
  SignerError,
  type ApiErrorCode,
  type Decision,
  type IntentBody,
} from '@clawd402/protocol';
import { evaluate, type IntentFacts, type PolicySet } from '@clawd402/policy';
import type { SignerClient, TicketIssuer } from '@clawd402/signer-client';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import { isDatabaseUnavailable } from '../db/pool.ts';
import { canonicalJson } from '../lib/canonical-json.ts';
import {
  findByIdempotencyKey,
  findIntent,
  insertIntent,
  transitionIntent,
  type IntentRecord,
} from '../repositories/intents-repository.ts';
import type { AgentContext } from '../plugins/app/auth.ts';
import { normalizeIntent, type NormalizedIntent } from './normalize.ts';
import { SigningLanes } from './signing-lanes.ts';

export interface PipelineDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  policy: () => PolicySet;
  signer: SignerClient;
  tickets: TicketIssuer;
  log: FastifyBaseLogger;
}

export interface PipelineResult {
  intent: IntentRecord;
  /** False when an Idempotency-Key retry returned an existing intent. */
  created: boolean;
}

/**
 * One intent, top to bottom:
 *   idempotency → normalise → policy → record decision (+audit) → [reject: stop]
 *   → gas and fees → lock nonce → ticket → sign → store signed tx (+audit) and consume nonce → submit (+audit).
 * Authentication, authorisation and schema validation happen before (route hooks); receipts after (tracker).
 * Money fails closed: any failure before the signed transaction is stored leaves nothing signed that can leave.
 */
export class IntentPipeline {
  private readonly lanes: SigningLanes;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: PipelineDeps) {
    this.lanes = new SigningLanes(deps);
  }

  /** Resolves when every intent being processed has finished (graceful shutdown waits for this). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  submit(agent: AgentContext, body: IntentBody, idempotencyKey: string | null): Promise<PipelineResult> {
    const work = this.process(agent, body, idempotencyKey);
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => {});
    return work;
  }

  private async process(principal: AgentContext, body: IntentBody, idempotencyKey: string | null): Promise<PipelineResult> {
    const requestHash = hashRequest(body);
    if (idempotencyKey !== null) {
      const existing = await findByIdempotencyKey(this.deps.pool, principal.agentId, idempotencyKey);
      if (existing) return { intent: assertSameRequest(existing, requestHash), created: false };
    }

    const intent = await normalizeIntent(body, this.deps.chains);
    const policy = this.deps.policy();
    const decision = evaluate(policy, toFacts(intent));

    const recorded = await this.recordDecision(principal, principal.signerAddress, intent, decision, requestHash, idempotencyKey);
    if (!recorded.created || recorded.intent.status !== 'approved') return recorded;

    const signed = await this.sign(recorded.intent, intent);
    if (signed.status !== 'signed') return { intent: signed, created: true };
    return { intent: await this.submitSigned(signed), created: true };
  }

  private async recordDecision(
    principal: AgentContext,
    from: Address,
    intent: NormalizedIntent,
    decision: Decision,
    requestHash: string,
    idempotencyKey: string | null,
  ): Promise<PipelineResult> {
    const id = randomUUID();
    // Only auto_approve proceeds; anything else (including actions this build cannot carry out) is a rejection.
    const status = decision.action === 'auto_approve' ? 'approved' : 'rejected';
    const inserted = await insertIntent(
      this.deps.pool,
      {
        id,
        agentId: principal.agentId,
        apiKeyId: principal.apiKeyId,
        idempotencyKey,
        requestHash,
        status,
        type: intent.type,
        chainId: intent.chainId,
        from,
        to: intent.call.to,
        recipient: intent.recipient,
        asset: intent.asset,
        amount: intent.amount,
        decimals: intent.decimals,
        data: intent.data,
        memo: intent.memo,
        decision,
      },
      {
        actor: `agent:${principal.agentId}`,
        action: 'intent.decided',
        subject: `intent:${id}`,
        data: {
          apiKeyId: principal.apiKeyId,
          requestHash,
          type: intent.type,
          chainId: intent.chainId,
          recipient: intent.recipient,
          asset: intent.asset,
          amount: intent.amount.toString(),
          action: decision.action,
          policy: decision.policy,
          policySetHash: decision.policySetHash,
          reasons: decision.reasons.map((r) => r.code),
          status,
        },
      },
    );
    if (inserted) return { intent: inserted, created: true };
    // Lost an idempotency race to a concurrent request with the same key: answer with the winner's intent.
    const existing = await findByIdempotencyKey(this.deps.pool, principal.agentId, idempotencyKey!);
    if (!existing) throw new Error('idempotent insert conflicted but no intent was found');
    return { intent: assertSameRequest(existing, requestHash), created: false };
  }

  /**
   * Price the transaction (gas, fees), then hand it to the address's signing lane, which signs and stores it with
   * its nonce and audit record atomically. Any failure leaves nothing signed that can leave, and the intent failed
   * with the step's code.
   */
  private async sign(intent: IntentRecord, normalized: NormalizedIntent): Promise<IntentRecord> {
    const { chains } = this.deps;
    try {
      const [gas, fees] = await Promise.all([
        chains.estimateGas(intent.chainId, { from: intent.from as Address, ...normalized.call }),
        chains.feeQuote(intent.chainId),
      ]);
      return await this.lanes.sign({ intent, call: normalized.call, gas, fees });
    } catch (error) {
      const code = failureCode(error);
      this.deps.log[code === 'internal_error' ? 'error' : 'warn']({ err: error, intentId: intent.id, code }, 'intent not signed');
      return this.fail(intent, ['approved'], code, error instanceof Clawd402Error ? error.message : undefined);
    }
  }

  /** Broadcast a stored signed transaction. A failed broadcast leaves the intent `signed`; the tracker retries it. */
  async submitSigned(intent: IntentRecord): Promise<IntentRecord> {
    try {
      await this.deps.chains.sendRawTransaction(intent.chainId, intent.rawTx as Hex);
    } catch (error) {
      if (!/already known|known transaction/i.test(String((error as Error).message))) {
        this.deps.log.warn({ err: error, intentId: intent.id }, 'broadcast failed; the tracker will retry');
        return intent;
      }
    }
    const updated = await transitionIntent(this.deps.pool, intent.id, ['signed'], 'submitted', {
      audit: { actor: 'system:gateway', action: 'intent.submitted', subject: `intent:${intent.id}`, data: { chainId: intent.chainId, txHash: intent.txHash } },
    }).catch((error: unknown) => {
      // The transaction is out; only the bookkeeping failed. The tracker settles it from the receipt.
      this.deps.log.error({ err: error, intentId: intent.id }, 'could not record submission');
      return undefined;
    });
    if (updated === undefined) return intent;
    // Lost the compare-and-set: a tracker (perhaps in another process) already settled it from the receipt.
    return updated ?? (await findIntent(this.deps.pool, intent.id).catch(() => null)) ?? intent;
  }

  private async fail(intent: IntentRecord, from: IntentRecord['status'][], code: ApiErrorCode, message?: string): Promise<IntentRecord> {
    const text = message ?? errorMessage(code);
    try {
      const failed = await transitionIntent(this.deps.pool, intent.id, from, 'failed', {
        fields: { error_code: code, error_message: text },
        audit: { actor: 'system:gateway', action: 'intent.failed', subject: `intent:${intent.id}`, data: { code } },
      });
      return failed ?? intent;
    } catch (error) {
      // Could not even record the failure (database down). Nothing was signed that can leave; say so.
      this.deps.log.error({ err: error, intentId: intent.id }, 'could not record intent failure');
      throw new Clawd402Error(code, text, { cause: error });
    }
  }
}

function errorMessage(code: ApiErrorCode): string {
  return new Clawd402Error(code).message;
}

/** Map a failure during signing to the code the agent sees. */
function failureCode(error: unknown): ApiErrorCode {
  if (error instanceof Clawd402Error) return error.code;
  if (error instanceof SignerError) return 'signer_refused';
  if (isDatabaseUnavailable(error)) return 'database_unavailable';
  return 'internal_error';
}

function hashRequest(body: IntentBody): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

function assertSameRequest(existing: IntentRecord, requestHash: string): IntentRecord {
  if (existing.requestHash !== requestHash) {
    throw new Clawd402Error('idempotency_key_reused', undefined, { details: { intentId: existing.id } });
  }
  return existing;
}

function toFacts(intent: NormalizedIntent): IntentFacts {
  return {
    type: intent.type,
    chainId: intent.chainId,
    recipient: intent.recipient,
    asset: intent.asset,
    amount: intent.amount,
    decimals: intent.decimals,
  };
}

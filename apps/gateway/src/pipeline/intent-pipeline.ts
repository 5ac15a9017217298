import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { Address, Hex } from 'viem';
import {
  Clawd402Error,
  SignerError,
  type ApiErrorCode,
  type IntentBody,
} from '@clawd402/protocol';
import type { PolicySet } from '@clawd402/policy';
import type { SignerClient, TicketIssuer } from '@clawd402/signer-client';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import { isDatabaseUnavailable } from '../db/pool.ts';
import { canonicalJson } from '../lib/canonical-json.ts';
import type { VerifiedContracts } from '../chain/verified-contracts.ts';
import type { PriceBook } from '../money/price-book.ts';
import { findByIdempotencyKey, findIntent, transitionIntent, type IntentRecord } from '../repositories/intents-repository.ts';
import { closeSpend } from '../repositories/spend-repository.ts';
import { findApprovalForIntent } from '../repositories/approvals-repository.ts';
import { callOf, intentDigest } from './intent-call.ts';
import { DecisionLanes, type DecisionRequest, type MoneySettings } from './decision-lanes.ts';
import type { AgentContext } from '../plugins/app/auth.ts';
import { normalizeIntent, type NormalizedIntent } from './normalize.ts';
import { screenIntent } from './screen-intent.ts';
import { SigningLanes } from './signing-lanes.ts';
import { SignaturePipeline } from './signature-pipeline.ts';
import { isSignatureIntentBody } from '@clawd402/protocol';

export interface PipelineDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  policy: () => PolicySet;
  signer: SignerClient;
  tickets: TicketIssuer;
  prices: PriceBook;
  verifiedContracts: VerifiedContracts;
  money: MoneySettings;
  log: FastifyBaseLogger;
}

export interface PipelineResult {
  intent: IntentRecord;
  /** False when an Idempotency-Key retry returned an existing intent. */
  created: boolean;
}

/**
 * One intent, top to bottom:
 *   idempotency → normalise → value, gas and fees → [decision lane: lock spend scopes → policy → breakers, prices,
 *   limits → record decision and reservation (+audit)] → [not approved: stop]
 *   → lock nonce → ticket → sign → store signed tx (+audit), commit spend, consume nonce → submit (+audit).
 * Authentication, authorisation and schema validation happen before (route hooks); receipts after (tracker).
 * Money fails closed: any failure before the signed transaction is stored leaves nothing signed that can leave.
 */
export class IntentPipeline {
  private readonly lanes: SigningLanes;
  private readonly decisions: DecisionLanes;
  private readonly signatures: SignaturePipeline;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: PipelineDeps) {
    this.lanes = new SigningLanes(deps);
    this.decisions = new DecisionLanes(deps);
    this.signatures = new SignaturePipeline(deps, this.decisions);
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
    await screenIntent(this.deps, principal, body); // input hygiene first: nothing reads a hostile intent (screen-intent.ts)
    const requestHash = hashRequest(body);
    if (idempotencyKey !== null) {
      const existing = await findByIdempotencyKey(this.deps.pool, principal.agentId, idempotencyKey);
      if (existing) return { intent: assertSameRequest(existing, requestHash), created: false };
    }
    // Typed data, messages, EIP-7702 authorisations: same policy and audit, a signature instead of a transaction.
    if (isSignatureIntentBody(body)) return this.signatures.process(principal, body, requestHash, idempotencyKey);

    const intent = await normalizeIntent(body, this.deps.chains, { from: principal.signerAddress, swaps: this.deps.swaps });
    // Value, gas and fees before the decision: what is reserved against budgets is value + worst-case fee. Decoded
    // effects, the value of what leaves the signer and the simulation come from chain-facts.ts; gas is estimated
    // beside them, and a refusal from the simulation (with its precise code) wins over estimateGas's generic one.
    const costing = this.estimateCost(principal.signerAddress, intent);
    costing.catch(() => {}); // awaited in assess(); this keeps an earlier refusal from leaving it unhandled
    const assessed = await this.deps.chainFacts.assess({ principal, intent, cost: costing });
    const [value, cost, extraFacts] = [assessed.value, assessed.cost, assessed.facts];
    const outcome = await this.decisions.decide({ principal, intent, requestHash, idempotencyKey, value, cost, extraFacts });
    if (outcome.intent) outcome.intent = await this.deps.chainFacts.record(outcome.intent, assessed); // simulation, swap plan, deadline
    let recorded: PipelineResult;
    if (outcome.intent) {
      recorded = { intent: outcome.intent, created: true };
    } else {
      // Lost an idempotency race to a concurrent request with the same key: answer with the winner's intent.
      const existing = await findByIdempotencyKey(this.deps.pool, principal.agentId, idempotencyKey!);
      if (!existing) throw new Error('idempotent insert conflicted but no intent was found');
      return { intent: assertSameRequest(existing, requestHash), created: false };
    }
    if (recorded.intent.status !== 'approved') return recorded;

    const signed = await this.sign(recorded.intent, intent, cost);
    if (signed.status !== 'signed') return { intent: signed, created: true };
    return { intent: await this.submitSigned(signed), created: true };
  }

  /** Gas limit and EIP-1559 fees the transaction will be signed with, and their worst case in USD. */
  private async estimateCost(from: Address, intent: Pick<NormalizedIntent, 'chainId' | 'call'>): Promise<DecisionRequest['cost']> {
    const { chains, prices } = this.deps;
    const [gas, fees] = await Promise.all([chains.estimateGas(intent.chainId, { from, ...intent.call }), chains.feeQuote(intent.chainId)]);
    const usd = await prices.value(intent.chainId, 'native', gas * fees.maxFeePerGas, 18);
    return { gas, fees, usd };
  }

  /**
   * Hand the priced transaction to the address's signing lane, which signs and stores it with its nonce and audit
   * record atomically. Any failure leaves nothing signed that can leave, the intent failed with the step's code, and
   * its reservation released.
   */
  private async sign(intent: IntentRecord, normalized: Pick<NormalizedIntent, 'call'>, cost: DecisionRequest['cost']): Promise<IntentRecord> {
    try {
      return await this.lanes.sign({ intent, call: normalized.call, gas: cost.gas, fees: cost.fees });
    } catch (error) {
      const code = failureCode(error);
      this.deps.log[code === 'internal_error' ? 'error' : 'warn']({ err: error, intentId: intent.id, code }, 'intent not signed');
      return this.fail(intent, ['approved'], code, error instanceof Clawd402Error ? error.message : undefined);
    }
  }

  /**
   * Carry on with an intent a human approved: check the approval is still bound to exactly this intent (its digest),
   * value and price it afresh, re-check budgets under lock and reserve, then sign and submit like any approved intent.
   * Safe to call twice or from two processes: every step is compare-and-set on the intent's status.
   */
  resumeApproved(intentId: string): Promise<IntentRecord | null> {
    const work = this.resume(intentId);
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => {});
    return work;
  }

  private async resume(intentId: string): Promise<IntentRecord | null> {
    const { pool, prices } = this.deps;
    const intent = await findIntent(pool, intentId);
    if (!intent || intent.status !== 'pending_approval') return intent;
    const approval = await findApprovalForIntent(pool, intentId);
    if (!approval || approval.status !== 'approved') return intent;
    if (intentDigest(intent) !== approval.digest) {
      // The intent is not what was approved (its stored fields changed): the approval does not count; nothing is signed.
      return (
        (await transitionIntent(pool, intent.id, ['pending_approval'], 'rejected', {
          fields: { error_code: 'approval_digest_mismatch', error_message: new Clawd402Error('approval_digest_mismatch').message },
          audit: { actor: 'system:gateway', action: 'intent.rejected_after_approval', subject: `intent:${intent.id}`, data: { reasons: ['approval_digest_mismatch'], approvalId: approval.id } },
        })) ?? intent
      );
    }
    const call = callOf(intent);
    const [value, cost] = await Promise.all([
      prices.value(intent.chainId, intent.asset, intent.amount, intent.decimals),
      this.estimateCost(intent.from as Address, { chainId: intent.chainId, call }),
    ]);
    const reserved = await this.decisions.reserveApproved(intent, { agentId: intent.agentId, apiKeyId: intent.apiKeyId ?? '' }, value, cost);
    if (reserved.status !== 'approved') return reserved;
    const signed = await this.sign(reserved, { call }, cost);
    if (signed.status !== 'signed') return signed;
    return this.submitSigned(signed);
  }

  /**
   * Broadcast a stored signed transaction on its route — the public mempool, or the chain's private relay for
   * intents above the MEV threshold (docs/submission.md). A failed broadcast leaves the intent `signed`; the tracker
   * retries it. Past its deadline an intent is never broadcast again (unless what it holds now is the cancellation the
   * deadline asked for): the reconciler cancels its nonce instead.
   */
  async submitSigned(intent: IntentRecord): Promise<IntentRecord> {
    if (intent.cancelReason === null && intent.deadline !== null && intent.deadline.getTime() <= Date.now()) return intent;
    const route = intent.submitRoute ?? 'public';
    try {
      await this.deps.chains.broadcast(intent.chainId, intent.rawTx as Hex, route);
    } catch (error) {
      this.deps.log.warn({ err: error, intentId: intent.id, chainId: intent.chainId, route }, 'broadcast failed; the tracker will retry');
      return intent;
    }
    const updated = await transitionIntent(this.deps.pool, intent.id, ['signed'], 'submitted', {
      audit: { actor: 'system:gateway', action: 'intent.submitted', subject: `intent:${intent.id}`, data: { chainId: intent.chainId, txHash: intent.txHash, route } },
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
      // Nothing left: its reservation goes back to the budgets (the tracker's sweep retries if this fails).
      if (failed) await closeSpend(this.deps.pool, intent.id).catch((error: unknown) => {
        this.deps.log.error({ err: error, intentId: intent.id }, 'could not release the reservation; the tracker will');
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

import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { Address } from 'viem';
import { REASON_CODES, type Decision, type ReasonCode } from '@clawd402/protocol';
import { evaluate, type IntentFacts, type PolicySet } from '@clawd402/policy';
import type { FeeQuote } from '../chain/chain-registry.ts';
import { withTransaction } from '../db/pool.ts';
import {
  BREAKER_COLOURS,
  breakerLevel,
  levelRank,
  thresholdOfLevel,
  thresholdsOf,
  worstLevel,
  type BreakerThresholds,
} from '../money/breakers.ts';
import type { Valuation } from '../money/price-book.ts';
import { formatUsd, type UsdMicros } from '../money/usd.ts';
import type { AgentContext } from '../plugins/app/auth.ts';
import { insertApproval } from '../repositories/approvals-repository.ts';
import { appendAuditBatch, type AuditEntry } from '../repositories/audit-repository.ts';
import { insertIntentsBatch, transitionIntent, type IntentRecord, type NewIntent } from '../repositories/intents-repository.ts';
import { enqueueNotification } from '../repositories/notifications-repository.ts';
import { intentDigest } from './intent-call.ts';
import {
  GLOBAL_SCOPE,
  agentScope,
  keyScope,
  lockGlobalScope,
  lockScopes,
  readSpend,
  reserveSpend,
  setBreakerLevel,
  type BreakerLevel,
  type ScopeRow,
  type ScopeSpend,
} from '../repositories/spend-repository.ts';
import type { NormalizedIntent } from './normalize.ts';

/** What the money checks need to know, configured once. */
export interface MoneySettings {
  breaker: BreakerThresholds;
  /** In the hard (red) state only these recipients, each intent at most `hardCapMicros`, are allowed. */
  hardAllowlist: readonly Address[];
  hardCapMicros: UsdMicros;
  /** Approval parameters for intents the soft breaker sends to a human. */
  softApproval: NonNullable<Decision['approval']>;
  /** Notification channels told when a breaker rises (CIRCUIT_BREAKER_WEBHOOK / _EMAIL provision them). */
  alertChannels: readonly string[];
}

export interface DecisionRequest {
  principal: AgentContext;
  intent: NormalizedIntent;
  requestHash: string;
  idempotencyKey: string | null;
  value: Valuation;
  /** Gas limit and fee quote the transaction will be signed with, and their worst-case cost in USD. */
  cost: { gas: bigint; fees: FeeQuote; usd: Valuation };
  /** Facts beyond the intent's own (decoded call, verified-contract flag…). */
  extraFacts: Partial<IntentFacts>;
  /**
   * The last word on the decision, after policy and money, inside the lane with the policy set it was evaluated
   * against (signature intents: signature-pipeline.ts). It may only make the decision stricter: an answer that is
   * looser than what it was given is ignored, and one that no longer auto-approves reserves nothing.
   */
  review?: (decision: Decision, policy: PolicySet) => Decision;
}

/** The decided intent; `inserted` false when an Idempotency-Key race was lost (the caller reads the winner). */
export interface DecisionOutcome {
  intent: IntentRecord | null;
}

interface Job extends DecisionRequest {
  resolve: (outcome: DecisionOutcome) => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH = 64;
/**
 * Decision lanes per process. An agent always uses the same lane (its intents stay in arrival order); a lane's batch
 * may hold several agents, so many quiet agents share one transaction (and one audit-chain commit) instead of paying
 * one each. Batches of different lanes run in parallel.
 */
const LANES = 4;

function laneOf(agentId: string): string {
  let hash = 0;
  for (let i = 0; i < agentId.length; i++) hash = (hash * 31 + agentId.charCodeAt(i)) >>> 0;
  return `lane-${hash % LANES}`;
}

/**
 * Decisions, in a few lanes per process (an agent always uses the same one). A lane decides queued intents in
 * batches inside one Postgres transaction that locks the spend scopes of the batch's agents and keys (in a fixed
 * order, so transactions never wait in a cycle) and the global scope when it carries a limit, and reads their
 * rolling spend. Then, intent by intent, in memory: it evaluates the policy with the exact spend as facts, applies
 * circuit breakers, prices and spend limits, and reserves what it approves. It records the whole batch in one
 * statement with its audit records, and writes bucket totals and breaker changes before COMMIT. Checking and
 * reserving a budget is therefore one critical section across every gateway process: parallel requests cannot race
 * past a limit. Batching keeps one hot agent fast (one lock round trip per batch, not per intent), and lets many
 * quiet agents share one commit of the audit chain.
 */
export class DecisionLanes {
  private readonly queues = new Map<string, Job[]>();

  constructor(
    private readonly deps: { pool: pg.Pool; policy: () => PolicySet; money: MoneySettings; log: FastifyBaseLogger },
    private readonly maxBatch = MAX_BATCH,
  ) {}

  decide(request: DecisionRequest): Promise<DecisionOutcome> {
    const key = laneOf(request.principal.agentId);
    return new Promise((resolve, reject) => {
      const job = { ...request, resolve, reject };
      const queue = this.queues.get(key);
      if (queue) {
        queue.push(job);
        return;
      }
      this.queues.set(key, [job]);
      void this.drain(key);
    });
  }

  private async drain(key: string): Promise<void> {
    const queue = this.queues.get(key)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, this.maxBatch);
      try {
        const outcomes = await this.decideBatch(batch);
        batch.forEach((job, i) => job.resolve(outcomes[i]!));
      } catch (error) {
        for (const job of batch) job.reject(error);
      }
    }
    this.queues.delete(key);
  }

  /**
   * A human approved `intent` (pending_approval): check its budgets again under the same locks a decision takes —
   * emergency and hard breakers, prices, spend limits (the soft breaker is what the human just answered) — and either
   * move it to `approved` with its reservation, or reject it with the reason. Returns the intent as it now stands.
   */
  async reserveApproved(
    intent: IntentRecord,
    principal: { agentId: string; apiKeyId: string },
    value: Valuation,
    cost: DecisionRequest['cost'],
  ): Promise<IntentRecord> {
    const { money } = this.deps;
    return withTransaction(this.deps.pool, async (client) => {
      const scopes = [agentScope(principal.agentId), keyScope(principal.apiKeyId), GLOBAL_SCOPE];
      const { locked, global: globalRead } = await lockScopes(client, scopes);
      const rows = new Map(locked);
      rows.set(GLOBAL_SCOPE, globalRead.limitDay !== null || globalRead.limitHour !== null ? await lockGlobalScope(client) : globalRead);
      const spend = await readSpend(client, scopes);
      const job = {
        intent: { recipient: intent.recipient as Address },
        value,
        cost,
      } as unknown as DecisionRequest;
      const base: Decision = { ...intent.decision!, action: 'auto_approve' };
      const verdict = applyMoney(base, job, scopes, rows, spend, money, true);
      const { rows: minute } = await client.query<{ m: Date }>(`SELECT date_trunc('minute', now()) AS m`);
      if (verdict.decision.action !== 'auto_approve') {
        const reasons = verdict.decision.reasons.slice(base.reasons.length);
        const moved = await transitionIntent(client, intent.id, ['pending_approval'], 'rejected', {
          fields: { error_code: reasons[0]?.code ?? 'spend.limit_exceeded', error_message: reasons[0]?.message ?? '' },
          detail: { after: 'approval', reasons: reasons.map((r) => r.code) },
          audit: { actor: 'system:gateway', action: 'intent.rejected_after_approval', subject: `intent:${intent.id}`, data: { reasons: reasons.map((r) => r.code) } },
        });
        return moved ?? intent;
      }
      const moved = await transitionIntent(client, intent.id, ['pending_approval'], 'approved', {
        fields: {
          value_usd_micros: value.status === 'ok' ? value.usd : null,
          fee_usd_micros: cost.usd.status === 'ok' ? cost.usd.usd : null,
          spend_usd_micros: verdict.reserve,
          spend_state: 'reserved',
          spend_minute: minute[0]!.m,
          gas_limit: cost.gas,
          max_fee_per_gas: cost.fees.maxFeePerGas,
          valuation: JSON.stringify({ ...valuationRecord({ value, cost } as DecisionRequest), maxFeePerGas: cost.fees.maxFeePerGas.toString(), maxPriorityFeePerGas: cost.fees.maxPriorityFeePerGas.toString() }),
        },
        detail: { after: 'approval', reservedUsd: formatUsd(verdict.reserve) },
        audit: {
          actor: 'system:gateway',
          action: 'intent.approved',
          subject: `intent:${intent.id}`,
          data: { reservedUsd: formatUsd(verdict.reserve), valueUsd: verdict.decision.money?.valueUsd ?? null },
        },
      });
      if (!moved) return intent;
      await reserveSpend(client, [intent.id]);
      return moved;
    });
  }

  private decideBatch(batch: readonly Job[]): Promise<DecisionOutcome[]> {
    const { money } = this.deps;
    const policy = this.deps.policy();
    return withTransaction(this.deps.pool, async (client) => {
      const scopeNames = new Set<string>();
      for (const job of batch) {
        scopeNames.add(agentScope(job.principal.agentId));
        scopeNames.add(keyScope(job.principal.apiKeyId));
      }
      const { locked, global: globalRead } = await lockScopes(client, [...scopeNames]);
      const rows = new Map(locked);
      // The global row is locked only when it carries a limit; its breaker otherwise reads committed spend.
      rows.set(GLOBAL_SCOPE, globalRead.limitDay !== null || globalRead.limitHour !== null ? await lockGlobalScope(client) : globalRead);
      const spend = await readSpend(client, [...scopeNames, GLOBAL_SCOPE]);

      // Decide every intent of the batch in memory, in arrival order, each seeing the reservations before it.
      const decided: { job: Job; row: NewIntent; audit: AuditEntry; decision: Decision; scopes: string[] }[] = [];
      for (const job of batch) {
        const scopes = [agentScope(job.principal.agentId), keyScope(job.principal.apiKeyId), GLOBAL_SCOPE];
        const agentSpend = spend.get(scopes[0]!)!;
        const now = Date.now();
        const facts: IntentFacts = {
          type: job.intent.type,
          chainId: job.intent.chainId,
          recipient: job.intent.recipient,
          asset: job.intent.asset,
          amount: job.intent.amount,
          decimals: job.intent.decimals,
          agentId: job.principal.agentId,
          apiKeyId: job.principal.apiKeyId,
          priceStatus: job.value.status,
          ...(job.value.status === 'ok' ? { valueUsd: job.value.usd } : {}),
          spend: { dayUsd: agentSpend.dayUsd, hourUsd: agentSpend.hourUsd, dayCount: agentSpend.dayCount, hourCount: agentSpend.hourCount },
          now,
          ...job.extraFacts,
        };
        const verdict = reviewed(applyMoney(evaluate(policy, facts), job, scopes, rows, spend, money), job, policy);
        const status = verdict.decision.action === 'auto_approve' ? 'approved' : verdict.decision.action === 'require_human_approval' ? 'pending_approval' : 'rejected';
        const id = randomUUID();
        if (verdict.reserve > 0n) for (const scope of scopes) addSpend(spend.get(scope)!, verdict.reserve);
        decided.push({
          job,
          decision: verdict.decision,
          scopes,
          row: {
            id,
            agentId: job.principal.agentId,
            apiKeyId: job.principal.apiKeyId,
            idempotencyKey: job.idempotencyKey,
            requestHash: job.requestHash,
            status,
            type: job.intent.type,
            chainId: job.intent.chainId,
            from: job.principal.signerAddress,
            to: job.intent.call.to,
            recipient: job.intent.recipient,
            asset: job.intent.asset,
            amount: job.intent.amount,
            decimals: job.intent.decimals,
            data: job.intent.data,
            memo: job.intent.memo,
            decision: verdict.decision,
            money: {
              valueUsd: job.value.status === 'ok' ? job.value.usd : null,
              feeUsd: job.cost.usd.status === 'ok' ? job.cost.usd.usd : null,
              reserved: verdict.reserve,
              valuation: valuationRecord(job),
              gas: job.cost.gas,
              fees: job.cost.fees,
            },
          },
          audit: {
            actor: `agent:${job.principal.agentId}`,
            action: 'intent.decided',
            subject: `intent:${id}`,
            data: {
              apiKeyId: job.principal.apiKeyId,
              requestHash: job.requestHash,
              type: job.intent.type,
              chainId: job.intent.chainId,
              recipient: job.intent.recipient,
              asset: job.intent.asset,
              amount: job.intent.amount.toString(),
              action: verdict.decision.action,
              policy: verdict.decision.policy,
              policySetHash: verdict.decision.policySetHash,
              reasons: verdict.decision.reasons.map((r) => r.code),
              valueUsd: verdict.decision.money?.valueUsd ?? null,
              reservedUsd: formatUsd(verdict.reserve),
              status,
            },
          },
        });
      }

      // Record them: one statement for the intents and their events, one for their audit records (in order).
      const inserted = await insertIntentsBatch(client, decided.map((d) => d.row));
      await appendAuditBatch(client, decided.filter((d) => inserted.has(d.row.id)).map((d) => d.audit));
      const outcomes: DecisionOutcome[] = [];
      const reserved: string[] = [];
      for (const d of decided) {
        const record = inserted.get(d.row.id) ?? null;
        if (record === null && (d.row.money?.reserved ?? 0n) > 0n) {
          // Lost an Idempotency-Key race: nothing was recorded, so its in-memory reservation does not count.
          for (const scope of d.scopes) addSpend(spend.get(scope)!, -(d.row.money!.reserved), -1);
        }
        if (record !== null && record.status === 'pending_approval') await createApprovalRequest(client, record, d.decision, d.job.principal.agentId);
        if (record !== null && (d.row.money?.reserved ?? 0n) > 0n) reserved.push(record.id);
        outcomes.push({ intent: record });
      }
      await reserveSpend(client, reserved);

      // Breaker levels after this batch: record every change (audit; an alert when rising; latch at emergency).
      for (const [scope, row] of rows) {
        const thresholds = thresholdsOf(row, money.breaker);
        const level = breakerLevel(spend.get(scope)?.breakerUsd ?? 0n, thresholds, row.latchedAt !== null);
        if (level !== row.level) {
          await setBreakerLevel(client, scope, row.level, level, {
            spendUsd: formatUsd(spend.get(scope)?.breakerUsd ?? 0n),
            thresholdUsd: thresholdOfLevel(level, thresholds) === null ? null : formatUsd(thresholdOfLevel(level, thresholds)!),
          });
          if (levelRank(level) > levelRank(row.level)) {
            this.deps.log.warn({ scope, from: row.level, to: level }, 'circuit breaker level rose');
            for (const channel of money.alertChannels) {
              await enqueueNotification(client, {
                channel,
                event: `breaker.${level}`,
                subject: `Circuit breaker ${BREAKER_COLOURS[level]} (${level}) for ${scope}: ${formatUsd(spend.get(scope)?.breakerUsd ?? 0n)} USD in 24 h`,
                payload: { scope, from: row.level, to: level, state: BREAKER_COLOURS[level], spendUsd: formatUsd(spend.get(scope)?.breakerUsd ?? 0n) },
              });
            }
          }
        }
      }
      return outcomes;
    });
  }
}

const STRICTNESS: Record<Decision['action'], number> = { auto_approve: 0, require_human_approval: 1, reject: 2 };

/** Apply the request's `review` (if any): only ever stricter; a decision that stops auto-approving reserves nothing. */
function reviewed(verdict: { decision: Decision; reserve: UsdMicros }, job: DecisionRequest, policy: PolicySet): { decision: Decision; reserve: UsdMicros } {
  if (job.review === undefined) return verdict;
  const decision = job.review(verdict.decision, policy);
  if (STRICTNESS[decision.action] < STRICTNESS[verdict.decision.action]) return verdict;
  if (decision.action === 'auto_approve') return { decision, reserve: verdict.reserve };
  const { approval, money, ...rest } = decision;
  return {
    decision: {
      ...rest,
      ...(decision.action === 'require_human_approval' && approval ? { approval } : {}),
      ...(money ? { money: { ...money, reservedUsd: formatUsd(0n) } } : {}),
    },
    reserve: 0n,
  };
}

function addSpend(s: ScopeSpend, usd: UsdMicros, count = 1): void {
  s.dayUsd += usd;
  s.hourUsd += usd;
  s.dayCount += count;
  s.hourCount += count;
  s.breakerUsd += usd;
}

function reason(code: ReasonCode, message?: string): { code: string; message: string } {
  return { code, message: message ?? REASON_CODES[code] };
}

/**
 * The money side of a decision, after the policy: breakers, prices, then spend limits. Only ever makes a decision
 * stricter (auto → approval → reject), never looser. Returns the decision with its `money` block and the amount to
 * reserve (value + worst-case fee) when it auto-approves.
 */
function applyMoney(
  policyDecision: Decision,
  job: DecisionRequest,
  scopes: readonly string[],
  rows: ReadonlyMap<string, ScopeRow>,
  spend: ReadonlyMap<string, ScopeSpend>,
  money: MoneySettings,
  humanApproved = false,
): { decision: Decision; reserve: UsdMicros } {
  let decision: Decision = { ...policyDecision, reasons: [...policyDecision.reasons] };
  const reject = (r: { code: string; message: string }): void => {
    const { approval: _dropped, ...rest } = decision;
    decision = { ...rest, action: 'reject', reasons: [...decision.reasons, r] };
  };

  const levels = new Map<string, BreakerLevel>();
  for (const scope of scopes) {
    const row = rows.get(scope)!;
    levels.set(scope, breakerLevel(spend.get(scope)!.breakerUsd, thresholdsOf(row, money.breaker), row.latchedAt !== null));
  }
  const level = worstLevel(levels.values());
  const valueUsd = job.value.status === 'ok' ? job.value.usd : null;
  const feeUsd = job.cost.usd.status === 'ok' ? job.cost.usd.usd : null;

  if (decision.action !== 'reject') {
    if (level === 'emergency') {
      reject(reason('breaker.emergency'));
    } else if (job.value.status !== 'ok' || job.cost.usd.status !== 'ok') {
      const status = job.value.status !== 'ok' ? job.value : job.cost.usd;
      const detail = status.status === 'ok' ? '' : status.detail;
      // Money fails closed: what cannot be valued cannot be counted against budgets or breakers.
      reject(reason(status.status === 'stale' ? 'price.stale' : 'price.unavailable', `The intent cannot be valued in USD, so it cannot be counted against spend limits; refused. ${detail}`));
    } else if (level === 'hard') {
      const allowlisted = money.hardAllowlist.includes(job.intent.recipient);
      if (!allowlisted || valueUsd! > money.hardCapMicros) reject(reason('breaker.hard'));
    }
  }
  if (decision.action === 'auto_approve' && level === 'soft' && !humanApproved) {
    decision = { ...decision, action: 'require_human_approval', approval: money.softApproval, reasons: [...decision.reasons, reason('breaker.soft')] };
  }

  const cost = valueUsd !== null && feeUsd !== null ? valueUsd + feeUsd : null;
  const budgets: NonNullable<Decision['money']>['budgets'] = [];
  let exceeded = false;
  if (cost !== null) {
    for (const scope of scopes) {
      const row = rows.get(scope)!;
      const s = spend.get(scope)!;
      for (const [window, limit, spent, freesAt] of [
        ['24h', row.limitDay, s.dayUsd, s.dayFreesAt],
        ['1h', row.limitHour, s.hourUsd, s.hourFreesAt],
      ] as const) {
        if (limit === null) continue;
        const fits = spent + cost <= limit;
        if (!fits) exceeded = true;
        const after = decision.action !== 'reject' && fits ? spent + cost : spent;
        budgets.push({
          scope: scope === GLOBAL_SCOPE ? 'global' : scope.startsWith('agent:') ? 'agent' : 'api_key',
          window,
          limitUsd: formatUsd(limit),
          spentUsd: formatUsd(after),
          remainingUsd: formatUsd(limit > after ? limit - after : 0n),
          freesAt: freesAt?.toISOString() ?? (after > 0n ? new Date(Date.now() + (window === '24h' ? 24 * 3_600_000 : 3_600_000) + 60_000).toISOString() : null),
        });
      }
    }
  }
  if (exceeded && decision.action !== 'reject') reject(reason('spend.limit_exceeded'));
  // Budgets shown after the final decision: a rejected intent reserved nothing.
  if (decision.action === 'reject') {
    for (const b of budgets) {
      const scope = b.scope === 'global' ? GLOBAL_SCOPE : b.scope === 'agent' ? scopes[0]! : scopes[1]!;
      const s = spend.get(scope)!;
      const spent = b.window === '24h' ? s.dayUsd : s.hourUsd;
      const limit = b.window === '24h' ? rows.get(scope)!.limitDay! : rows.get(scope)!.limitHour!;
      b.spentUsd = formatUsd(spent);
      b.remainingUsd = formatUsd(limit > spent ? limit - spent : 0n);
      b.freesAt = (b.window === '24h' ? s.dayFreesAt : s.hourFreesAt)?.toISOString() ?? null;
    }
  }
  const reserve = decision.action === 'auto_approve' && cost !== null ? cost : 0n;
  decision = {
    ...decision,
    money: {
      valueUsd: valueUsd === null ? null : formatUsd(valueUsd),
      feeUsd: feeUsd === null ? null : formatUsd(feeUsd),
      reservedUsd: formatUsd(reserve),
      breaker: BREAKER_COLOURS[level],
      budgets,
    },
  };
  return { decision, reserve };
}

function valuationRecord(job: DecisionRequest): Record<string, unknown> {
  const price = (v: Valuation): Record<string, unknown> =>
    v.status === 'ok'
      ? { status: 'ok', usdPerUnitMicros: v.price.micros.toString(), source: v.price.source, at: v.price.at.toISOString() }
      : { status: v.status };
  return { asset: price(job.value), native: price(job.cost.usd) };
}

/** Default time a human has to decide when the rule names no timeout (the linter warns about such rules). */
const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 1800;

/**
 * The approval record of an intent now pending approval, bound to the digest of what will be signed, and its
 * notifications, in the deciding transaction (all commit together or none).
 */
async function createApprovalRequest(client: pg.PoolClient, intent: IntentRecord, decision: Decision, agentId: string): Promise<void> {
  const approval = decision.approval;
  const id = randomUUID();
  const channels = approval?.notification.channels ?? [];
  await insertApproval(client, {
    id,
    intentId: intent.id,
    digest: intentDigest(intent),
    required: approval?.quorum.required ?? 1,
    approvers: approval?.quorum.approvers ?? null,
    roles: approval?.quorum.roles ?? null,
    excludeOwnerOfAgent: approval?.quorum.excludeAgentOwner ? agentId : null,
    channels,
    escalation: approval?.notification.escalation ?? null,
    timeoutSeconds: approval?.notification.timeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  });
  for (const channel of channels) {
    await enqueueNotification(client, {
      channel,
      event: 'approval.requested',
      subject: `Approval needed: ${intent.type} of ${intent.amount} (base units) ${intent.asset === 'native' ? 'native' : intent.asset} to ${intent.recipient} on chain ${intent.chainId}`,
      payload: {
        approvalId: id,
        intentId: intent.id,
        agentId,
        chainId: intent.chainId,
        type: intent.type,
        recipient: intent.recipient,
        asset: intent.asset,
        amount: intent.amount.toString(),
        valueUsd: decision.money?.valueUsd ?? null,
        rule: decision.policy,
        reasons: decision.reasons.map((r) => r.code),
      },
      dedupeKey: `approval:${id}:requested`,
    });
  }
}

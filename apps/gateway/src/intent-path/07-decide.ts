import type { Address } from 'viem';
import { REASON_CODES, type Decision, type ReasonCode, type SimulationView, type SwapView } from '@clawd402/protocol';
import { evaluate, type IntentFacts, type PolicySet } from '@clawd402/policy';
import type { Requester } from '../domain/agent.ts';
import type { NormalizedIntent, SigningRequestRecord } from '../domain/intent.ts';
import { formatUsd, type UsdMicros } from '../domain/usd.ts';
import { BREAKER_COLOURS, breakerLevel, thresholdsOf, worstLevel, type BreakerThresholds } from '../money/breakers.ts';
import type { Valuation } from '../money/price-book.ts';
import { budgetView, budgetWindows, ruleBudgets } from '../money/budgets.ts';
import type { BreakerLevel, ScopeRow, ScopeSpend } from '../repositories/spend-repository.ts';
import { policyFacts } from './policy-facts.ts';
import type { Cost } from './06-value.ts';

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
  principal: Requester;
  intent: NormalizedIntent;
  requestHash: string;
  idempotencyKey: string | null;
  value: Valuation;
  /** Gas limit and fee quote the transaction will be signed with, and their worst-case cost in USD. */
  cost: Cost;
  /** Facts beyond the intent's own (decoded call, verified-contract flag, simulation, typed data…): policy-facts.ts. */
  extraFacts: Partial<IntentFacts>;
  /** What earlier stages learnt, stored with the decided intent in the same statement (08-reserve.ts). */
  stored?: StoredFacts;
  /**
   * The last word on the decision, after policy and money, with the policy set it was evaluated against (signature
   * intents: signature-intents.ts). It may only make the decision stricter: an answer that is looser than what it was
   * given is ignored, and one that no longer auto-approves reserves nothing.
   */
  review?: (decision: Decision, policy: PolicySet) => Decision;
}

/** Stored with the intent when it is recorded: the simulation, a swap's plan, the deadline, a signature's request. */
export interface StoredFacts {
  simulation?: SimulationView | null;
  swap?: SwapView | null;
  deadline?: Date | null;
  signing?: { request: SigningRequestRecord; digest: string | null } | null;
}

/** One intent decided: the decision with its money block, and what to reserve (value + worst-case fee) if approved. */
export interface Verdict {
  decision: Decision;
  reserve: UsdMicros;
}

/**
 * Stage 7 — decide: the policy (first matching rule, default deny) on the intent's facts with the agent's exact
 * rolling spend, then the money checks — circuit breakers, prices, spend limits — which only ever make it stricter,
 * then the request's own review. Pure: the caller (08-reserve.ts) holds the spend scopes' locks, passes their rows and
 * spend, and records what this returns.
 */
export function decide(
  policy: PolicySet,
  request: DecisionRequest,
  scopes: readonly string[],
  rows: ReadonlyMap<string, ScopeRow>,
  spend: ReadonlyMap<string, ScopeSpend>,
  money: MoneySettings,
): Verdict {
  const facts = policyFacts({
    intent: { ...request.intent, data: null },
    agentId: request.principal.agentId,
    apiKeyId: request.principal.apiKeyId,
    origin: request.principal.origin,
    value: request.value,
    spend: spend.get(scopes[0]!)!,
    now: Date.now(),
    extra: request.extraFacts,
  });
  const verdict = reviewed(applyMoney(evaluate(policy, facts), request, scopes, rows, spend, money), request, policy);
  const budgets = verdict.decision.money?.budgets;
  if (budgets) budgets.push(...ruleBudgets(policy, request.principal, spend.get(scopes[0]!)!, verdict.reserve));
  return verdict;
}

const STRICTNESS: Record<Decision['action'], number> = { auto_approve: 0, require_human_approval: 1, reject: 2 };

/** Apply the request's `review` (if any): only ever stricter; a decision that stops auto-approving reserves nothing. */
function reviewed(verdict: Verdict, job: DecisionRequest, policy: PolicySet): Verdict {
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

export function addSpend(s: ScopeSpend, usd: UsdMicros, count = 1): void {
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
export function applyMoney(
  policyDecision: Decision,
  job: Pick<DecisionRequest, 'value' | 'cost'> & { intent: Pick<NormalizedIntent, 'recipient'> },
  scopes: readonly string[],
  rows: ReadonlyMap<string, ScopeRow>,
  spend: ReadonlyMap<string, ScopeSpend>,
  money: MoneySettings,
  humanApproved = false,
): Verdict {
  let decision: Decision = { ...policyDecision, reasons: [...policyDecision.reasons] };
  const reject = (r: { code: string; message: string }): void => {
    const { approval: _dropped, ...rest } = decision;
    decision = { ...rest, action: 'reject', reasons: [...decision.reasons, r] };
  };

  const levels = new Map<string, BreakerLevel>();
  for (const scope of scopes) {
    const row = rows.get(scope)!;
    levels.set(
      scope,
      breakerLevel(spend.get(scope)!.breakerUsd, thresholdsOf(row, money.breaker), row.latchedAt !== null),
    );
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
      reject(
        reason(
          status.status === 'stale' ? 'price.stale' : 'price.unavailable',
          `The intent cannot be valued in USD, so it cannot be counted against spend limits; refused. ${detail}`,
        ),
      );
    } else if (level === 'hard') {
      const allowlisted = money.hardAllowlist.includes(job.intent.recipient);
      if (!allowlisted || valueUsd! > money.hardCapMicros) reject(reason('breaker.hard'));
    }
  }
  if (decision.action === 'auto_approve' && level === 'soft' && !humanApproved) {
    decision = {
      ...decision,
      action: 'require_human_approval',
      approval: money.softApproval,
      reasons: [...decision.reasons, reason('breaker.soft')],
    };
  }

  const cost = valueUsd !== null && feeUsd !== null ? valueUsd + feeUsd : null;
  const windows = cost === null ? [] : budgetWindows(scopes, rows, spend);
  if (windows.some((w) => w.spent + cost! > w.limit) && decision.action !== 'reject') {
    reject(reason('spend.limit_exceeded'));
  }
  // Budgets shown after the final decision: a rejected intent reserved nothing; any other counts its cost.
  const budgets = windows.map((w) => budgetView(w, decision.action === 'reject' ? 0n : cost!));
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

export function valuationRecord(job: Pick<DecisionRequest, 'value' | 'cost'>): Record<string, unknown> {
  const price = (v: Valuation): Record<string, unknown> =>
    v.status === 'ok'
      ? {
          status: 'ok',
          usdPerUnitMicros: v.price.micros.toString(),
          source: v.price.source,
          at: v.price.at.toISOString(),
        }
      : { status: v.status };
  return { asset: price(job.value), native: price(job.cost.usd) };
}

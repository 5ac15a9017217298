import type { Decision, DecisionAction, IntentOrigin } from '@clawd402/protocol';
import {
  evaluate,
  type AvailableFacts,
  type IntentFacts,
  type PolicySet,
  type TransactionType,
} from '@clawd402/policy';
import type { ReplayIntentRow } from '../repositories/policies-repository.ts';
import { policyFacts } from '../intent-path/policy-facts.ts';

/** Most stored intents one replay may evaluate. */
export const MAX_REPLAY_INTENTS = 1000;

/** What facts are built from: a normalised intent (dry-run of one intent) or a stored intent's columns (replay). */
export interface FactSource {
  type: TransactionType;
  chainId: number;
  recipient: string;
  asset: string;
  amount: bigint;
  decimals: number;
  agentId: string;
  apiKeyId?: string | null;
  /** Calldata of a contract call (its selector becomes a fact); null for transfers. */
  data?: string | null;
  /** USD value in micro-dollars; null or absent when unknown. */
  valueUsdMicros?: bigint | null;
  /** The surface it came through; null or absent when not known. */
  origin?: IntentOrigin | null;
  /** When the decision is (or was) made, epoch ms. */
  at: number;
}

/**
 * The facts a policy decides on, as far as they can be rebuilt from `source` (built by the same intent-path/policy-facts.ts
 * as live decisions); `extra` adds facts looked up live (a dry-run of one intent adds price, spend and
 * contract verification). A fact neither has — for a replay: the spend windows before the intent, a decoded call,
 * contract verification, a price that was not recorded — stays absent, so a condition that needs it answers unknown
 * and its rule fails closed; a replay shows such a change with reason `policy.condition_unknown_fact` (or
 * `price.unavailable`) so it can be told apart from a real one.
 */
export function factsOf(source: FactSource, extra: Partial<IntentFacts> = {}): AvailableFacts {
  const known = source.valueUsdMicros !== null && source.valueUsdMicros !== undefined;
  return policyFacts({
    intent: source,
    agentId: source.agentId,
    apiKeyId: source.apiKeyId,
    origin: source.origin,
    value: known ? { status: 'ok', usd: source.valueUsdMicros! } : null,
    now: source.at,
    extra,
  });
}

/** The part of a decision a replay compares: the action and the rule that decided. */
export interface DecisionSummary {
  action: DecisionAction;
  policy: string | null;
  policySetHash: string;
  /** The decision's reason codes, e.g. `policy.rule_matched`. */
  reasons: string[];
}

/** One stored intent whose decision the candidate would change. */
export interface DecisionChange {
  intentId: string;
  agentId: string;
  createdAt: Date;
  before: DecisionSummary;
  after: DecisionSummary;
}

export interface ReplayTotals {
  /** Stored intents evaluated against the candidate. */
  evaluated: number;
  changed: number;
  unchanged: number;
  /** Changes where the action differs (e.g. auto_approve → reject). */
  actionChanged: number;
  /** Changes where the action is the same but another rule decides. */
  ruleChanged: number;
  /** Action changes counted by `before->after`, e.g. `{ "reject->auto_approve": 2 }`. */
  byTransition: Record<string, number>;
}

export interface ReplayResult {
  totals: ReplayTotals;
  /** Exactly the intents whose action or deciding rule would change, newest first. */
  changes: DecisionChange[];
}

const summary = (d: Decision): DecisionSummary => ({
  action: d.action,
  policy: d.policy,
  policySetHash: d.policySetHash,
  reasons: (d.reasons ?? []).map((r) => r.code),
});

/**
 * Decide each stored intent again with `candidate` (rebuilding its facts from the stored columns) and list those
 * whose outcome would differ from the decision it got: another action or another deciding rule. Pure; reads nothing,
 * writes nothing.
 */
export function replayDecisions(candidate: PolicySet, intents: readonly ReplayIntentRow[]): ReplayResult {
  const changes: DecisionChange[] = [];
  const byTransition: Record<string, number> = {};
  let actionChanged = 0;
  for (const intent of intents) {
    const after = evaluate(candidate, factsOf({ ...intent, at: intent.createdAt.getTime() }));
    const before = intent.decision;
    if (after.action === before.action && after.policy === before.policy) continue;
    if (after.action !== before.action) {
      actionChanged += 1;
      const key = `${before.action}->${after.action}`;
      byTransition[key] = (byTransition[key] ?? 0) + 1;
    }
    changes.push({
      intentId: intent.id,
      agentId: intent.agentId,
      createdAt: intent.createdAt,
      before: summary(before),
      after: summary(after),
    });
  }
  return {
    totals: {
      evaluated: intents.length,
      changed: changes.length,
      unchanged: intents.length - changes.length,
      actionChanged,
      ruleChanged: changes.length - actionChanged,
      byTransition,
    },
    changes,
  };
}

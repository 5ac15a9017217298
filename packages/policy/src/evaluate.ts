import { REASON_CODES, type Decision } from '@clawd402/protocol';
import { copyApproval } from './approval.ts';
import type { AvailableFacts } from './facts.ts';
import { COMPILED, type CompiledPolicySet, type PolicySet } from './policy-set.ts';

const NO_FACTS: AvailableFacts = Object.freeze({});

/**
 * Decide one intent against a loaded set. Rules are tried in order and the first whose conditions all hold decides,
 * with reason `policy.rule_matched` (plus `policy.recipient_blacklisted` for a matching blacklist rule). If no rule
 * matches, the implicit final deny applies: `{ action: 'reject', policy: null, reasons: [policy.default_deny] }`.
 *
 * Missing facts fail closed, in three-valued logic: a rule with a condition that does not hold is skipped, because
 * no value of the missing fact could make it match; a rule whose other conditions hold but one of which answers
 * `'unknown'` decides the intent as `reject` with reason `policy.condition_unknown_fact` (naming the rule and the
 * condition, `policy` set to that rule) — evaluation never falls through past a rule that might have matched. A
 * condition may name a more specific reason for its unknown answer: a USD condition without a usable `valueUsd`
 * gives `price.unavailable` or `price.stale` (from `priceStatus`) instead.
 *
 * A `require_human_approval` decision carries `approval` (notification channels and timeouts, quorum) for the
 * gateway to create the approval record. Every decision carries `policySetHash` and the deciding rule's name.
 *
 * Pure and synchronous; no I/O. Returns a fresh object each call.
 *
 * @example
 * evaluate(set, { type: 'transfer', chainId: 31337, recipient, asset: 'native', amount: 10n ** 17n, decimals: 18 })
 * // → { action: 'auto_approve', policy: 'small_transfers', policySetHash: 'sha256:…', reasons: [...] }
 */
export function evaluate(set: PolicySet, facts: AvailableFacts): Decision {
  const compiled: CompiledPolicySet | undefined =
    typeof set === 'object' && set !== null ? (set as Partial<PolicySet>)[COMPILED] : undefined;
  if (compiled === undefined) throw new TypeError('evaluate() needs a PolicySet returned by loadPolicySet()');
  const input = typeof facts === 'object' && facts !== null ? facts : NO_FACTS;
  const rules = compiled.rules;
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r]!;
    const tests = rule.tests;
    let unknownAt = -1;
    let holds = true;
    for (let c = 0; c < tests.length; c++) {
      const result = tests[c]!(input);
      if (result === true) continue;
      if (result === false) {
        holds = false;
        break;
      }
      if (unknownAt === -1) unknownAt = c; // 'unknown', or anything that is not a boolean
    }
    if (!holds) continue;
    if (unknownAt !== -1) {
      const specific = rule.unknownReasons[unknownAt]?.(input);
      const reason =
        specific === undefined
          ? { code: 'policy.condition_unknown_fact', message: rule.unknownMessages[unknownAt]! }
          : {
              code: specific.code,
              message: `Rule ${rule.label} could not be evaluated: condition ${rule.keys[unknownAt]} ${specific.detail}; failing closed.`,
            };
      return { action: 'reject', policy: rule.name, policySetHash: compiled.hash, reasons: [reason] };
    }
    const reasons = rule.matchReasons.map((reason) => ({ code: reason.code, message: reason.message }));
    if (rule.approval !== undefined) {
      return {
        action: rule.action,
        policy: rule.name,
        policySetHash: compiled.hash,
        reasons,
        approval: copyApproval(rule.approval),
      };
    }
    return { action: rule.action, policy: rule.name, policySetHash: compiled.hash, reasons };
  }
  return {
    action: 'reject',
    policy: null,
    policySetHash: compiled.hash,
    reasons: [{ code: 'policy.default_deny', message: REASON_CODES['policy.default_deny'] }],
  };
}

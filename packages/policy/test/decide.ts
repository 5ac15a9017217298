import assert from 'node:assert/strict';
import { evaluate, loadPolicySet, type AvailableFacts } from '../src/index.ts';
import type { Decision } from '@clawd402/protocol';
import { ALICE, BOB, CAROL, oneRule } from './fixtures.ts';

/**
 * The decision of a two-rule set: rule `r` with `conditions` and `action`, then `fallback` (match-all auto_approve
 * by default for reject rules, reject for others), so that "held", "did not hold" and "unknown" are told apart:
 * held → r decides with policy.rule_matched; did not hold → fallback decides; unknown → r rejects with the
 * unknown reason.
 */
export function decideRule(conditions: string, facts: AvailableFacts, action = 'auto_approve'): Decision {
  const fallback = action === 'reject' ? 'auto_approve' : 'reject';
  const set = loadPolicySet(
    `${oneRule(conditions, action)}  - name: fallback\n    conditions: {}\n    action: ${fallback}\n`,
  );
  return evaluate(set, facts);
}

/** 'holds' | 'fails' | the reason code of an unknown answer, for a condition tested with {@link decideRule}. */
export function outcome(conditions: string, facts: AvailableFacts, action = 'auto_approve'): string {
  const decision = decideRule(conditions, facts, action);
  if (decision.policy === 'fallback') return 'fails';
  const code = decision.reasons[0]!.code;
  return code === 'policy.rule_matched' ? 'holds' : code;
}

/** An address-list condition listing ALICE and lowercase BOB holds for ALICE, BOB and lowercase ALICE, not CAROL. */
export function assertListedAddressesHold(conditions: string, factsFor: (address: string) => AvailableFacts): void {
  assert.equal(outcome(conditions, factsFor(ALICE)), 'holds');
  assert.equal(outcome(conditions, factsFor(BOB)), 'holds');
  assert.equal(outcome(conditions, factsFor(ALICE.toLowerCase())), 'holds');
  assert.equal(outcome(conditions, factsFor(CAROL)), 'fails');
}

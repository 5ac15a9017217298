import Type from 'typebox';
import { ConditionValueError, defineCondition, type ConditionValueIssue } from '../condition.ts';
import { addressFact, compileAddressSet, MAX_ADDRESS_LIST_ITEMS } from './address-list.ts';

/**
 * `spender_blacklist`: the spender of an approval or permit is one of the listed addresses. Like
 * `recipient_blacklist`, it holds for a listed spender, so a rule using it may only `reject`.
 */
export const spenderBlacklistCondition = defineCondition({
  key: 'spender_blacklist',
  description: 'Holds when the spender of an approval or permit is in the list; only allowed in rules that reject.',
  expects: 'a non-empty list of addresses and "@name" references to address_lists',
  facts: ['spender'],
  schema: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_ADDRESS_LIST_ITEMS }),
  matchReason: 'policy.spender_blacklisted',
  actions: ['reject'],
  compile(value, context) {
    const issues: ConditionValueIssue[] = [];
    const blocked = compileAddressSet(value, issues, context);
    if (issues.length > 0) throw new ConditionValueError(issues);
    return (facts) => {
      const spender = addressFact(facts.spender);
      if (spender === undefined) return 'unknown';
      return blocked.has(spender);
    };
  },
});

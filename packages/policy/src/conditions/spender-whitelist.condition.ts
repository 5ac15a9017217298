import Type from 'typebox';
import { ConditionValueError, defineCondition, type ConditionValueIssue } from '../condition.ts';
import { addressFact, compileAddressSet, MAX_ADDRESS_LIST_ITEMS } from './address-list.ts';

/** `spender_whitelist`: the spender of an approval or permit is one of the listed addresses (or `@list` members). */
export const spenderWhitelistCondition = defineCondition({
  key: 'spender_whitelist',
  description: 'Holds when the spender of an approval or permit is in the list.',
  expects: 'a non-empty list of addresses and "@name" references to address_lists',
  facts: ['spender'],
  schema: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_ADDRESS_LIST_ITEMS }),
  compile(value, context) {
    const issues: ConditionValueIssue[] = [];
    const allowed = compileAddressSet(value, issues, context);
    if (issues.length > 0) throw new ConditionValueError(issues);
    return (facts) => {
      const spender = addressFact(facts.spender);
      if (spender === undefined) return 'unknown';
      return allowed.has(spender);
    };
  },
});

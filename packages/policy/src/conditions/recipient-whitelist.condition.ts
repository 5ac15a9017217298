import Type from 'typebox';
import { ConditionValueError, defineCondition, type ConditionValueIssue } from '../condition.ts';
import { addressFact, compileAddressSet, MAX_ADDRESS_LIST_ITEMS } from './address-list.ts';

/** `recipient_whitelist`: the recipient (a contract call's `to`) is one of the listed addresses. */
export const recipientWhitelistCondition = defineCondition({
  key: 'recipient_whitelist',
  description: "Holds when the recipient (for a contract call, the `to` address) is in the list.",
  expects: 'a non-empty list of addresses and "@name" references to address_lists',
  facts: ['recipient'],
  schema: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_ADDRESS_LIST_ITEMS }),
  compile(value, context) {
    const issues: ConditionValueIssue[] = [];
    const allowed = compileAddressSet(value, issues, context);
    if (issues.length > 0) throw new ConditionValueError(issues);
    return (facts) => {
      const recipient = addressFact(facts.recipient);
      if (recipient === undefined) return 'unknown';
      return allowed.has(recipient);
    };
  },
});

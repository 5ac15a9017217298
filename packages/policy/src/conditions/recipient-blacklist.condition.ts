import Type from 'typebox';
import { ConditionValueError, defineCondition, type ConditionValueIssue } from '../condition.ts';
import { addressFact, compileAddressSet, MAX_ADDRESS_LIST_ITEMS } from './address-list.ts';

/**
 * `recipient_blacklist`: the recipient is one of the listed addresses. The condition *holds* for a listed
 * recipient, so the rule carrying it is a rule that rejects them; a rule using it may only name `action: reject`
 * (read the other way round, "auto-approve unless blacklisted", it would approve everyone else — refused at load).
 */
export const recipientBlacklistCondition = defineCondition({
  key: 'recipient_blacklist',
  description:
    'Holds when the recipient (for a contract call, the `to` address) is in the list; only allowed in rules that reject.',
  expects: 'a non-empty list of addresses and "@name" references to address_lists',
  facts: ['recipient'],
  schema: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_ADDRESS_LIST_ITEMS }),
  matchReason: 'policy.recipient_blacklisted',
  actions: ['reject'],
  compile(value, context) {
    const issues: ConditionValueIssue[] = [];
    const blocked = compileAddressSet(value, issues, context);
    if (issues.length > 0) throw new ConditionValueError(issues);
    return (facts) => {
      const recipient = addressFact(facts.recipient);
      if (recipient === undefined) return 'unknown';
      return blocked.has(recipient);
    };
  },
});

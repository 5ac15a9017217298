import Type from 'typebox';
import { ConditionValueError, defineCondition, type ConditionValueIssue } from '../condition.ts';
import { addressFact, compileAddressSet, MAX_ADDRESS_LIST_ITEMS } from './address-list.ts';

/** `recipients_touched_whitelist`: every address the simulation saw assets go to is in the list. */
export const recipientsTouchedWhitelistCondition = defineCondition({
  key: 'recipients_touched_whitelist',
  description: 'Holds when every address the simulation saw assets sent to is in the list (none sent: holds).',
  expects: 'a non-empty list of addresses and "@name" references to address_lists',
  facts: ['simulation'],
  schema: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_ADDRESS_LIST_ITEMS }),
  compile(value, context) {
    const issues: ConditionValueIssue[] = [];
    const allowed = compileAddressSet(value, issues, context);
    if (issues.length > 0) throw new ConditionValueError(issues);
    return (facts) => {
      const touched = facts.simulation?.recipientsTouched;
      if (!Array.isArray(touched)) return 'unknown';
      for (const raw of touched) {
        const address = addressFact(raw);
        if (address === undefined) return 'unknown';
        if (!allowed.has(address)) return false;
      }
      return true;
    };
  },
});

import { defineCondition } from '../condition.ts';
import { ADDRESS_LIST_VALUE, addressFact, compileConditionAddressSet } from './address-list.ts';

/** `recipients_touched_whitelist`: every address the simulation saw assets go to is in the list. */
export const recipientsTouchedWhitelistCondition = defineCondition({
  key: 'recipients_touched_whitelist',
  description: 'Holds when every address the simulation saw assets sent to is in the list (none sent: holds).',
  ...ADDRESS_LIST_VALUE,
  facts: ['simulation'],
  compile(value, context) {
    const allowed = compileConditionAddressSet(value, context);
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

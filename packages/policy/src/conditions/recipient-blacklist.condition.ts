import { defineCondition } from '../condition.ts';
import { ADDRESS_LIST_VALUE, addressFactIn, compileConditionAddressSet } from './address-list.ts';

/**
 * `recipient_blacklist`: the recipient is one of the listed addresses. The condition *holds* for a listed
 * recipient, so the rule carrying it is a rule that rejects them; a rule using it may only name `action: reject`
 * (read the other way round, "auto-approve unless blacklisted", it would approve everyone else — refused at load).
 */
export const recipientBlacklistCondition = defineCondition({
  key: 'recipient_blacklist',
  description:
    'Holds when the recipient (for a contract call, the `to` address) is in the list; only allowed in rules that reject.',
  ...ADDRESS_LIST_VALUE,
  facts: ['recipient'],
  matchReason: 'policy.recipient_blacklisted',
  actions: ['reject'],
  compile(value, context) {
    return addressFactIn(compileConditionAddressSet(value, context), (facts) => facts.recipient);
  },
});

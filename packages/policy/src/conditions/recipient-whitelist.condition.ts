import { defineCondition } from '../condition.ts';
import { ADDRESS_LIST_VALUE, addressFactIn, compileConditionAddressSet } from './address-list.ts';

/** `recipient_whitelist`: the recipient (a contract call's `to`) is one of the listed addresses. */
export const recipientWhitelistCondition = defineCondition({
  key: 'recipient_whitelist',
  description: 'Holds when the recipient (for a contract call, the `to` address) is in the list.',
  ...ADDRESS_LIST_VALUE,
  facts: ['recipient'],
  compile(value, context) {
    return addressFactIn(compileConditionAddressSet(value, context), (facts) => facts.recipient);
  },
});

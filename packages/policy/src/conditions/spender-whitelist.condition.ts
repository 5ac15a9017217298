import { defineCondition } from '../condition.ts';
import { ADDRESS_LIST_VALUE, addressFactIn, compileConditionAddressSet } from './address-list.ts';

/** `spender_whitelist`: the spender of an approval or permit is one of the listed addresses (or `@list` members). */
export const spenderWhitelistCondition = defineCondition({
  key: 'spender_whitelist',
  description: 'Holds when the spender of an approval or permit is in the list.',
  ...ADDRESS_LIST_VALUE,
  facts: ['spender'],
  compile(value, context) {
    return addressFactIn(compileConditionAddressSet(value, context), (facts) => facts.spender);
  },
});

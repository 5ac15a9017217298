import { defineCondition } from '../condition.ts';
import { ADDRESS_LIST_VALUE, addressFactIn, compileConditionAddressSet } from './address-list.ts';

/**
 * `spender_blacklist`: the spender of an approval or permit is one of the listed addresses. Like
 * `recipient_blacklist`, it holds for a listed spender, so a rule using it may only `reject`.
 */
export const spenderBlacklistCondition = defineCondition({
  key: 'spender_blacklist',
  description: 'Holds when the spender of an approval or permit is in the list; only allowed in rules that reject.',
  ...ADDRESS_LIST_VALUE,
  facts: ['spender'],
  matchReason: 'policy.spender_blacklisted',
  actions: ['reject'],
  compile(value, context) {
    return addressFactIn(compileConditionAddressSet(value, context), (facts) => facts.spender);
  },
});

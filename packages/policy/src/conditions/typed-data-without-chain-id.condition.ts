import { defineCondition } from '../condition.ts';
import { ADDRESS_LIST_VALUE, addressFact, compileConditionAddressSet } from './address-list.ts';

/**
 * `typed_data_without_chain_id`: the EIP-712 domain has no `chainId` and its `verifyingContract` is one of the listed
 * contracts (or `@list` members). A signature over such a domain is valid on every chain, so the gateway refuses it
 * (`chain.typed_data_without_chain_id`) unless the deciding rule carries this condition (its match adds
 * `policy.typed_data_without_chain_id_allowed`). A domain that has a chainId, or no verifyingContract, does not match.
 * Unknown for intents that are not typed data: pair it with `transaction_type: typed_data`.
 */
export const typedDataWithoutChainIdCondition = defineCondition({
  key: 'typed_data_without_chain_id',
  description: "Holds when the typed data's EIP-712 domain has no chainId and its verifyingContract is in the list.",
  ...ADDRESS_LIST_VALUE,
  facts: ['typedData'],
  matchReason: 'policy.typed_data_without_chain_id_allowed',
  // It allows; nothing needs refusing by rule (the gateway refuses a domain without chainId by default).
  actions: ['auto_approve', 'require_human_approval'],
  compile(value, context) {
    const allowed = compileConditionAddressSet(value, context);
    return (facts) => {
      const domain = facts.typedData?.domain;
      if (typeof domain !== 'object' || domain === null) return 'unknown';
      const contract = addressFact(domain.verifyingContract);
      return domain.chainId === undefined && contract !== undefined && allowed.has(contract);
    };
  },
});

import Type from 'typebox';
import { defineCondition, equalsBooleanFact } from '../condition.ts';

/**
 * `contract_verified`: whether the recipient / target contract is in the gateway's verified-contract registry
 * equals the given boolean. `contract_verified: false` in a rejecting rule blocks unverified contracts.
 */
export const contractVerifiedCondition = defineCondition({
  key: 'contract_verified',
  description:
    "Holds when the target contract's presence in the gateway's verified-contract registry equals this boolean.",
  expects: 'true or false',
  facts: ['contractVerified'],
  schema: Type.Boolean(),
  compile: equalsBooleanFact((facts) => facts.contractVerified),
});

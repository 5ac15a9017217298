import Type from 'typebox';
import { ConditionValueError, defineCondition, type ConditionValueIssue } from '../condition.ts';
import { addressFact, compileAddressSet, MAX_ADDRESS_LIST_ITEMS } from './address-list.ts';

/**
 * `authorization_delegate`: the EIP-7702 authorisation delegates the account to one of the listed contracts (or
 * `@list` members). The gateway refuses every `authorization` intent unless the deciding rule carries this condition
 * (its match adds `policy.authorization_delegate_allowed`), so naming the delegate here is the only way to allow one.
 * Unknown for intents that are not authorisations: pair it with `transaction_type: authorization`.
 */
export const authorizationDelegateCondition = defineCondition({
  key: 'authorization_delegate',
  description: 'Holds when the EIP-7702 authorisation delegates the account to a listed contract.',
  expects: 'a non-empty list of addresses and "@name" references to address_lists',
  facts: ['authorizationDelegate'],
  schema: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_ADDRESS_LIST_ITEMS }),
  matchReason: 'policy.authorization_delegate_allowed',
  // It allows; a delegate to refuse is a recipient_blacklist entry (the delegate is the authorisation's recipient).
  actions: ['auto_approve', 'require_human_approval'],
  compile(value, context) {
    const issues: ConditionValueIssue[] = [];
    const allowed = compileAddressSet(value, issues, context);
    if (issues.length > 0) throw new ConditionValueError(issues);
    return (facts) => {
      const delegate = addressFact(facts.authorizationDelegate);
      if (delegate === undefined) return 'unknown';
      return allowed.has(delegate);
    };
  },
});

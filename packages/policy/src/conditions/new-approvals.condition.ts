import Type from 'typebox';
import { defineCondition } from '../condition.ts';

/** `new_approvals`: whether the simulated transaction grants any token approval equals the given boolean. */
export const newApprovalsCondition = defineCondition({
  key: 'new_approvals',
  description:
    'Holds when whether the simulated transaction grants any token approval (allowance or operator) equals this boolean.',
  expects: 'true or false',
  facts: ['simulation'],
  schema: Type.Boolean(),
  compile(value) {
    return (facts) => {
      const approvals = facts.simulation?.newApprovals;
      if (!Array.isArray(approvals)) return 'unknown';
      return approvals.length > 0 === value;
    };
  },
});

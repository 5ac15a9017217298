import Type from 'typebox';
import { defineCondition, equalsBooleanFact } from '../condition.ts';

/** `unlimited_approval`: whether the approval or permit is unlimited equals the given boolean. */
export const unlimitedApprovalCondition = defineCondition({
  key: 'unlimited_approval',
  description: 'Holds when whether the approval or permit is unlimited equals this boolean.',
  expects: 'true or false',
  facts: ['unlimitedApproval'],
  schema: Type.Boolean(),
  compile: equalsBooleanFact((facts) => facts.unlimitedApproval),
});

import { defineCondition } from '../condition.ts';
import { IdOrListSchema, memberOf } from './string-set.ts';

/** `typed_data_primary_type`: the EIP-712 primary type is the given one, or one of a list (exact, case-sensitive). */
export const typedDataPrimaryTypeCondition = defineCondition({
  key: 'typed_data_primary_type',
  description: "Holds when the typed data's primaryType is the given one, or one of the listed ones (case-sensitive).",
  expects: 'a type name such as "Permit", or a non-empty list of them',
  facts: ['typedData'],
  schema: IdOrListSchema,
  compile: (value) => memberOf(value, (facts) => facts.typedData?.primaryType),
});

import Type from 'typebox';
import { defineCondition } from '../condition.ts';
import { TRANSACTION_TYPES } from '../facts.ts';

const TransactionTypeName = Type.Union(TRANSACTION_TYPES.map((t) => Type.Literal(t)));

/** `transaction_type`: the intent is of one of the listed kinds. */
export const transactionTypeCondition = defineCondition({
  key: 'transaction_type',
  description: 'Holds when the intent is of the given kind, or of one of the listed kinds.',
  expects: `one of ${TRANSACTION_TYPES.join(', ')}, or a non-empty list of them`,
  facts: ['type'],
  schema: Type.Union([
    TransactionTypeName,
    Type.Array(TransactionTypeName, { minItems: 1, maxItems: TRANSACTION_TYPES.length * 4 }),
  ]),
  compile(value) {
    const types: ReadonlySet<string> = new Set(typeof value === 'string' ? [value] : value);
    if (types.size === 1) {
      // The common case, one type: a string comparison is cheaper than a Set lookup on every rule of a large set.
      const only = [...types][0]!;
      return (facts) => {
        const type = facts.type;
        if (typeof type !== 'string') return 'unknown';
        return type === only;
      };
    }
    return (facts) => {
      const type = facts.type;
      if (typeof type !== 'string') return 'unknown';
      return types.has(type);
    };
  },
});

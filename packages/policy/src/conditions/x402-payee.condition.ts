import Type from 'typebox';
import { defineCondition } from '../condition.ts';
import { X402_PAYEE_STATUSES, type X402PayeeStatus } from '../facts.ts';

const Status = Type.Union(X402_PAYEE_STATUSES.map((s) => Type.Literal(s)));

/**
 * `x402_payee`: how the x402 payment's payee is known for its host is one of these — `listed` by the operator
 * (X402_PAYEES), `pinned` (first seen by an earlier payment) or `new` (the first payee seen for the host, pinned by
 * this payment). Unknown for an intent that is not an x402 payment.
 */
export const x402PayeeCondition = defineCondition({
  key: 'x402_payee',
  description:
    "Holds when the x402 payee is `listed` for its host, `pinned` (first seen by an earlier payment) or `new` (the host's first payee), as listed.",
  expects: 'one of listed, pinned, new, or a non-empty list of them',
  facts: ['x402'],
  schema: Type.Union([Status, Type.Array(Status, { minItems: 1, maxItems: 3 })]),
  compile(value) {
    const allowed = new Set<X402PayeeStatus>(typeof value === 'string' ? [value] : value);
    return (facts) => {
      const status = facts.x402?.payeeStatus;
      if (typeof status !== 'string') return 'unknown';
      return allowed.has(status);
    };
  },
});

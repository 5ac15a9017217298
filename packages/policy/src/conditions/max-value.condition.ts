import Type from 'typebox';
import { Clawd402Error, parseAmount } from '@clawd402/protocol';
import { ConditionValueError, defineCondition } from '../condition.ts';

/** ERC-20 `decimals()` is a uint8. A decimals fact outside 0–255 is treated as unknown. */
const MAX_DECIMALS = 255;

/** `max_value`: the amount, in the asset's own units, is at most this value (inclusive). */
export const maxValueCondition = defineCondition({
  key: 'max_value',
  description:
    'Holds when the intent\'s amount is at most this value, written in the asset\'s units ("1" = 1 ETH = 10^18 wei); inclusive.',
  expects: 'a non-negative decimal string such as "1.5" (a plain YAML number is accepted too)',
  facts: ['amount', 'decimals'],
  schema: Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Number()]),
  compile(value) {
    // A number reaching here was written as a plain decimal that a double holds exactly (the document parser
    // refuses anything else), so its shortest string form is that decimal.
    const text = typeof value === 'number' ? String(value) : value;
    const dot = text.indexOf('.');
    const scale = dot === -1 ? 0 : text.length - dot - 1;
    let limit: bigint;
    try {
      // The limit in units of 10^-scale: exact, whatever the asset's decimals turn out to be.
      limit = parseAmount('max_value', text, scale);
    } catch (error) {
      const overflow = error instanceof Clawd402Error && error.code === 'amount_overflow';
      throw new ConditionValueError([
        {
          path: '',
          message: overflow
            ? 'does not fit in 256 bits'
            : 'must be a non-negative decimal string such as "1.5" (no sign, exponent, or leading zeros)',
        },
      ]);
    }
    // Threshold in base units per decimals, computed once per decimals value. When the limit has more fractional
    // digits than the asset, amount * 10^k <= limit  <=>  amount <= floor(limit / 10^k) for integer amounts, so
    // the comparison stays exact and never rounds in the agent's favour.
    const thresholds: (bigint | undefined)[] = [];
    const thresholdFor = (decimals: number): bigint => {
      let threshold = thresholds[decimals];
      if (threshold === undefined) {
        threshold =
          decimals >= scale ? limit * 10n ** BigInt(decimals - scale) : limit / 10n ** BigInt(scale - decimals);
        thresholds[decimals] = threshold;
      }
      return threshold;
    };
    return (facts) => {
      const { amount, decimals } = facts;
      if (typeof amount !== 'bigint' || amount < 0n) return 'unknown';
      if (typeof decimals !== 'number' || !Number.isInteger(decimals) || decimals < 0 || decimals > MAX_DECIMALS) {
        return 'unknown';
      }
      return amount <= thresholdFor(decimals);
    };
  },
});

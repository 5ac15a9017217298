import Type from 'typebox';
import { Clawd402Error, parseAmount } from '@clawd402/protocol';
import { ConditionValueError, type ConditionTest, type UnknownReason } from '../condition.ts';
import type { AvailableFacts, FactName } from '../facts.ts';

/** Fractional digits of a micro-USD amount: 1 USD = 1_000_000n. */
export const USD_DECIMALS = 6;

/** A USD amount as a policy writes it: a decimal string (`"99.5"`) or a plain YAML/JSON number (`100`). */
export const UsdAmountSchema = Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Number()]);

export const USD_EXPECTS = 'a non-negative decimal USD amount with at most 6 fractional digits, such as 100 or "99.95"';

/**
 * A USD amount written in a policy → micro-USD, exactly (no floating point). A number reaching here was written as
 * a plain decimal that a double holds exactly (the document parser refuses anything else), so its shortest string
 * form is that decimal. More than 6 fractional digits (finer than the fact's unit) is a load error, not a rounding.
 */
export function parseUsd(value: string | number): bigint {
  const text = typeof value === 'number' ? String(value) : value;
  try {
    return parseAmount('usd', text, USD_DECIMALS);
  } catch (error) {
    const code = error instanceof Clawd402Error ? error.code : undefined;
    const message =
      code === 'amount_too_precise'
        ? 'has more than 6 fractional digits (USD amounts are compared in micro-USD)'
        : code === 'amount_overflow'
          ? 'does not fit in 256 bits'
          : `must be ${USD_EXPECTS} (no sign, exponent, or leading zeros)`;
    throw new ConditionValueError([{ path: '', message }]);
  }
}

/**
 * The intent's value in micro-USD, or undefined when it cannot be used: absent, not a non-negative bigint, or
 * marked `priceStatus: 'unknown' | 'stale'` (a value computed from a stale price is not trusted).
 */
export function usdValue(facts: AvailableFacts): bigint | undefined {
  const value = facts.valueUsd;
  if (typeof value !== 'bigint' || value < 0n) return undefined;
  const status = facts.priceStatus;
  if (status !== undefined && status !== 'ok') return undefined;
  return value;
}

const STALE: UnknownReason = Object.freeze({
  code: 'price.stale',
  detail: "needs the intent's USD value and the asset's price is stale",
});
const UNAVAILABLE: UnknownReason = Object.freeze({
  code: 'price.unavailable',
  detail: "needs the intent's USD value and no price is available for the asset",
});

/** The reason for an unknown USD condition when the USD value is what is missing; undefined otherwise. */
export function priceUnknownReason(facts: AvailableFacts): UnknownReason | undefined {
  if (usdValue(facts) !== undefined) return undefined;
  return facts.priceStatus === 'stale' ? STALE : UNAVAILABLE;
}

/** A non-negative bigint, or undefined. */
export function nonNegativeBigint(value: unknown): bigint | undefined {
  return typeof value === 'bigint' && value >= 0n ? value : undefined;
}

/** A count: a non-negative safe integer, or undefined. */
export function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** What a condition on the intent's own USD value (`min_value_usd`, `max_value_usd`) expects, reads and explains. */
export const USD_VALUE_CONDITION = {
  expects: USD_EXPECTS,
  facts: ['valueUsd'] as readonly FactName[],
  schema: UsdAmountSchema,
  unknownReason: priceUnknownReason,
};

/**
 * Compile the USD amount `value` into a test of the intent's micro-USD value against it with `holds`; the test
 * answers 'unknown' when the value cannot be used (see {@link usdValue}).
 */
export function usdValueTest(value: string | number, holds: (usd: bigint, limit: bigint) => boolean): ConditionTest {
  const limit = parseUsd(value);
  return (facts) => {
    const usd = usdValue(facts);
    if (usd === undefined) return 'unknown';
    return holds(usd, limit);
  };
}

import { defineCondition } from '../condition.ts';
import { parseUsd, priceUnknownReason, USD_EXPECTS, UsdAmountSchema, usdValue } from './usd.ts';

/** `max_value_usd`: the intent's USD value is at most this amount (inclusive), compared in micro-USD. */
export const maxValueUsdCondition = defineCondition({
  key: 'max_value_usd',
  description: "Holds when the intent's value in USD (without fees) is at most this amount; inclusive, exact in micro-USD.",
  expects: USD_EXPECTS,
  facts: ['valueUsd'],
  schema: UsdAmountSchema,
  unknownReason: priceUnknownReason,
  compile(value) {
    const limit = parseUsd(value);
    return (facts) => {
      const usd = usdValue(facts);
      if (usd === undefined) return 'unknown';
      return usd <= limit;
    };
  },
});

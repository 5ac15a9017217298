import { defineCondition } from '../condition.ts';
import { USD_VALUE_CONDITION, usdValueTest } from './usd.ts';

/** `max_value_usd`: the intent's USD value is at most this amount (inclusive), compared in micro-USD. */
export const maxValueUsdCondition = defineCondition({
  key: 'max_value_usd',
  description:
    "Holds when the intent's value in USD (without fees) is at most this amount; inclusive, exact in micro-USD.",
  ...USD_VALUE_CONDITION,
  compile(value) {
    return usdValueTest(value, (usd, limit) => usd <= limit);
  },
});

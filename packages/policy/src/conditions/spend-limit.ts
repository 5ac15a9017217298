import Type from 'typebox';
import { defineCondition, type ConditionDefinition } from '../condition.ts';
import type { SpendFacts } from '../facts.ts';
import {
  count,
  nonNegativeBigint,
  parseUsd,
  priceUnknownReason,
  USD_EXPECTS,
  UsdAmountSchema,
  usdValue,
} from './usd.ts';

/** Which rolling window a spend condition reads. */
export type SpendWindow = 'day' | 'hour';

const WINDOW_TEXT: Record<SpendWindow, string> = { day: 'rolling 24 hours', hour: 'rolling hour' };

/**
 * `daily_limit_usd` / `hourly_limit_usd`: the agent's USD spend in the window before this intent, plus this intent's
 * USD value, is at most the limit (`spend.dayUsd + valueUsd <= limit`). Unknown without `spend` or a usable
 * `valueUsd`; a missing value answers `price.unavailable` / `price.stale`.
 */
export function usdLimitCondition(key: string, window: SpendWindow): ConditionDefinition {
  const field: keyof SpendFacts = window === 'day' ? 'dayUsd' : 'hourUsd';
  return defineCondition({
    key,
    description: `Holds when the agent's USD spend in the ${WINDOW_TEXT[window]} before this intent plus the intent's USD value is at most this amount.`,
    expects: USD_EXPECTS,
    facts: ['spend', 'valueUsd'],
    schema: UsdAmountSchema,
    unknownReason: priceUnknownReason,
    compile(value) {
      const limit = parseUsd(value);
      return (facts) => {
        const usd = usdValue(facts);
        const spent = nonNegativeBigint(facts.spend?.[field]);
        if (usd === undefined || spent === undefined) return 'unknown';
        return spent + usd <= limit;
      };
    },
  });
}

/** Most intents a count limit may name. */
export const MAX_COUNT_LIMIT = 1_000_000_000;

/**
 * `daily_count_limit` / `hourly_count_limit`: the agent's number of intents in the window before this one, plus
 * one, is at most the limit (`spend.dayCount + 1 <= limit`). A limit of 0 never holds.
 */
export function countLimitCondition(key: string, window: SpendWindow): ConditionDefinition {
  const field: keyof SpendFacts = window === 'day' ? 'dayCount' : 'hourCount';
  return defineCondition({
    key,
    description: `Holds when the agent's intent count in the ${WINDOW_TEXT[window]} before this intent, plus one, is at most this number.`,
    expects: `a whole number from 0 to ${MAX_COUNT_LIMIT}`,
    facts: ['spend'],
    schema: Type.Integer({ minimum: 0, maximum: MAX_COUNT_LIMIT }),
    compile(limit) {
      return (facts) => {
        const before = count(facts.spend?.[field]);
        if (before === undefined) return 'unknown';
        return before + 1 <= limit;
      };
    },
  });
}

import { countLimitCondition } from './spend-limit.ts';

/** `daily_count_limit`: intents in the rolling 24 h before this one + 1 ≤ limit. */
export const dailyCountLimitCondition = countLimitCondition('daily_count_limit', 'day');

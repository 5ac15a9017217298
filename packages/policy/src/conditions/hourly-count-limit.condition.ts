import { countLimitCondition } from './spend-limit.ts';

/** `hourly_count_limit`: intents in the rolling hour before this one + 1 ≤ limit. */
export const hourlyCountLimitCondition = countLimitCondition('hourly_count_limit', 'hour');

import { usdLimitCondition } from './spend-limit.ts';

/** `daily_limit_usd`: spend in the rolling 24 h before this intent + its USD value ≤ limit. */
export const dailyLimitUsdCondition = usdLimitCondition('daily_limit_usd', 'day');

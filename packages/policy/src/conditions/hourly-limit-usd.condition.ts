import { usdLimitCondition } from './spend-limit.ts';

/** `hourly_limit_usd`: spend in the rolling hour before this intent + its USD value ≤ limit. */
export const hourlyLimitUsdCondition = usdLimitCondition('hourly_limit_usd', 'hour');

import type { PolicySet } from './policy-set.ts';
import { parseUsd } from './conditions/usd.ts';
import { stringSet } from './conditions/string-set.ts';

/** One spend window a rule's own limits set (`daily_limit_usd`, `hourly_limit_usd`, `*_count_limit`). */
export interface RuleLimit {
  rule: string;
  window: 'day' | 'hour';
  /** Micro-USD; absent when the rule limits only the count in this window. */
  usd?: bigint;
  count?: number;
}

/**
 * The spend windows the rules of `set` impose on an agent (rules restricted by `agent` or `api_key` to others are
 * left out), in rule order: what an agent needs to be told what remains (decision.money.budgets).
 */
export function ruleLimits(set: PolicySet, who: { agentId?: string; apiKeyId?: string }): RuleLimit[] {
  const limits: RuleLimit[] = [];
  for (const rule of set.rules) {
    const c = rule.conditions;
    if (Object.hasOwn(c, 'agent') && !(who.agentId && stringSet(c.agent as string | string[]).has(who.agentId)))
      continue;
    if (Object.hasOwn(c, 'api_key') && !(who.apiKeyId && stringSet(c.api_key as string | string[]).has(who.apiKeyId)))
      continue;
    for (const [window, usdKey, countKey] of [
      ['day', 'daily_limit_usd', 'daily_count_limit'],
      ['hour', 'hourly_limit_usd', 'hourly_count_limit'],
    ] as const) {
      const usd = Object.hasOwn(c, usdKey) ? parseUsd(c[usdKey] as string | number) : undefined;
      const count = Object.hasOwn(c, countKey) ? Number(c[countKey]) : undefined;
      if (usd === undefined && count === undefined) continue;
      limits.push({
        rule: rule.name,
        window,
        ...(usd !== undefined ? { usd } : {}),
        ...(count !== undefined ? { count } : {}),
      });
    }
  }
  return limits;
}

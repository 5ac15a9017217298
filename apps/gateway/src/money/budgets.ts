import type { BudgetView, Decision } from '@clawd402/protocol';
import { ruleLimits, type PolicySet } from '@clawd402/policy';
import { formatUsd, type UsdMicros } from '../domain/usd.ts';
import { GLOBAL_SCOPE, type ScopeRow, type ScopeSpend } from '../repositories/spend-repository.ts';

/** One limited window of one spend scope: its limit, what is spent in it and when the oldest spend stops counting. */
export interface BudgetWindow {
  scope: BudgetView['scope'];
  window: BudgetView['window'];
  limit: UsdMicros;
  spent: UsdMicros;
  freesAt: Date | null;
}

/**
 * Every limited window of `scopes` (agent, API key, global, in that order), 24 h before 1 h: the budgets an intent
 * counts against. A window without a limit is not a budget.
 */
export function budgetWindows(
  scopes: readonly string[],
  rows: ReadonlyMap<string, ScopeRow>,
  spend: ReadonlyMap<string, ScopeSpend>,
): BudgetWindow[] {
  const windows: BudgetWindow[] = [];
  for (const scope of scopes) {
    const row = rows.get(scope);
    const s = spend.get(scope);
    if (!row || !s) continue;
    const name = scope === GLOBAL_SCOPE ? 'global' : scope.startsWith('agent:') ? 'agent' : 'api_key';
    if (row.limitDay !== null)
      windows.push({ scope: name, window: '24h', limit: row.limitDay, spent: s.dayUsd, freesAt: s.dayFreesAt });
    if (row.limitHour !== null)
      windows.push({ scope: name, window: '1h', limit: row.limitHour, spent: s.hourUsd, freesAt: s.hourFreesAt });
  }
  return windows;
}

/**
 * A window as `decision.money.budgets` and `GET /v1/budget` show it, after `added` more spend (an approved intent's
 * reservation; 0 for what is spent now). Spend added to an empty window frees a window's length (and a minute) from now.
 */
export function budgetView(w: BudgetWindow, added: UsdMicros = 0n): BudgetView {
  const after = w.spent + added;
  const length = w.window === '24h' ? 24 * 3_600_000 : 3_600_000;
  return {
    scope: w.scope,
    window: w.window,
    limitUsd: formatUsd(w.limit),
    spentUsd: formatUsd(after),
    remainingUsd: formatUsd(w.limit > after ? w.limit - after : 0n),
    freesAt:
      w.freesAt?.toISOString() ??
      (added > 0n && after > 0n ? new Date(Date.now() + length + 60_000).toISOString() : null),
  };
}

/**
 * The windows a policy rule's own limits set for this agent (`daily_limit_usd`, `hourly_limit_usd`, with the rule's
 * count limit in the same window), as `decision.money.budgets` shows them: scope `rule:<name>`, the agent's spend in
 * the window after this intent (`reserved`: what it reserved, 0 when it was not approved) and what remains. A window
 * with only a count limit is not listed (a budget is in USD).
 */
export function ruleBudgets(
  policy: PolicySet,
  principal: { agentId: string; apiKeyId?: string | null },
  spend: ScopeSpend,
  reserved: UsdMicros,
): NonNullable<Decision['money']>['budgets'] {
  const who = { agentId: principal.agentId, ...(principal.apiKeyId ? { apiKeyId: principal.apiKeyId } : {}) };
  return ruleLimits(policy, who).flatMap((limit) => {
    if (limit.usd === undefined) return [];
    const day = limit.window === 'day';
    const spent = (day ? spend.dayUsd : spend.hourUsd) + reserved;
    const used = (day ? spend.dayCount : spend.hourCount) + (reserved > 0n ? 1 : 0);
    const freesAt = (day ? spend.dayFreesAt : spend.hourFreesAt)?.toISOString() ?? null;
    return [
      {
        scope: `rule:${limit.rule}`,
        window: day ? ('24h' as const) : ('1h' as const),
        limitUsd: formatUsd(limit.usd),
        spentUsd: formatUsd(spent),
        remainingUsd: formatUsd(limit.usd > spent ? limit.usd - spent : 0n),
        freesAt,
        ...(limit.count !== undefined
          ? { limitCount: limit.count, usedCount: used, remainingCount: Math.max(0, limit.count - used) }
          : {}),
      },
    ];
  });
}

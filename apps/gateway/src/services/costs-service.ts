import type { PolicySet } from '@clawd402/policy';
import type pg from 'pg';
import { Clawd402Error, type BudgetView } from '@clawd402/protocol';
import type { AgentContext } from '../domain/agent.ts';
import { withTransaction } from '../db/pool.ts';
import type { UserPrincipal } from '../domain/principal.ts';
import type { UsdMicros } from '../domain/usd.ts';
import { breakerLevel, thresholdsOf, type BreakerThresholds } from '../money/breakers.ts';
import { budgetView, budgetWindows, ruleBudgets } from '../money/budgets.ts';
import {
  GLOBAL_SCOPE,
  agentScope,
  keyScope,
  listScopes,
  readScopes,
  readSpend,
  resetBreaker,
  spendByAsset,
  updateScopeLimits,
  type BreakerLevel,
  type ScopeLimitsUpdate,
  type ScopeReport,
  type ScopeRow,
} from '../repositories/spend-repository.ts';

export type { BreakerLevel, ScopeLimitsUpdate, ScopeRow } from '../repositories/spend-repository.ts';

/** A scope's spend, limits and breaker as operators see it: its effective thresholds and the level they give. */
export interface ScopeCosts extends ScopeReport {
  thresholds: BreakerThresholds;
  level: BreakerLevel;
}

/**
 * Spend by scope (agent, API key, global), asset and chain against limits and breaker state; owners set limits and
 * reset breakers, audited with the acting user in the same transaction.
 */
export class CostsService {
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      breakerDefaults: BreakerThresholds;
      /** The active policy set: its rules' own limits are budgets too (`budgetsOf`). */
      policy?: () => PolicySet;
    },
  ) {}

  async overview(): Promise<{
    scopes: ScopeCosts[];
    byAsset: { chainId: number; asset: string; usd: UsdMicros; count: number }[];
  }> {
    const [scopes, byAsset] = await Promise.all([listScopes(this.deps.pool), spendByAsset(this.deps.pool)]);
    return {
      scopes: scopes.map((report) => {
        const thresholds = this.thresholds(report.scope);
        return {
          ...report,
          thresholds,
          level: breakerLevel(report.spend.breakerUsd, thresholds, report.scope.latchedAt !== null),
        };
      }),
      byAsset,
    };
  }

  /**
   * What is left of each budget an agent's intents count against (its agent, API key and global scopes), as committed
   * now: the same list, computed by the same code, as `decision.money.budgets` of an intent that reserves nothing.
   */
  async budgetsOf(agent: AgentContext): Promise<BudgetView[]> {
    const scopes = [agentScope(agent.agentId), keyScope(agent.apiKeyId), GLOBAL_SCOPE];
    const [rows, spend] = await Promise.all([readScopes(this.deps.pool, scopes), readSpend(this.deps.pool, scopes)]);
    const windows = budgetWindows(scopes, rows, spend).map((w) => budgetView(w));
    const own = spend.get(scopes[0]!);
    const policy = this.deps.policy?.();
    return policy && own ? [...windows, ...ruleBudgets(policy, agent, own, 0n)] : windows;
  }

  /** A scope's effective breaker thresholds (its own, else the configured defaults). */
  thresholds(scope: ScopeRow): BreakerThresholds {
    return thresholdsOf(scope, this.deps.breakerDefaults);
  }

  /** Set a scope's limits and thresholds; refused (and rolled back) if the effective thresholds would not rise. */
  async setLimits(actor: UserPrincipal, scope: string, update: ScopeLimitsUpdate): Promise<ScopeRow> {
    return withTransaction(this.deps.pool, async (client) => {
      const updated = await updateScopeLimits(client, scope, update, `user:${actor.userId}`);
      const t = this.thresholds(updated);
      if (!(t.warning <= t.soft && t.soft <= t.hard && t.hard <= t.emergency)) {
        // Rolls the change back: a breaker whose levels do not rise would skip states.
        throw new Clawd402Error(
          'invalid_request',
          'Breaker thresholds must rise: warning ≤ soft ≤ hard ≤ emergency (unset ones use the defaults).',
          { details: { field: 'breaker' } },
        );
      }
      return updated;
    });
  }

  /** An owner's breaker reset (audited with the reason), or `not_found` for a scope without a row. */
  async resetBreaker(actor: UserPrincipal, scope: string, reason: string): Promise<ScopeRow> {
    const row = await withTransaction(this.deps.pool, (client) =>
      resetBreaker(client, scope, `user:${actor.userId}`, reason),
    );
    if (!row)
      throw new Clawd402Error(
        'not_found',
        scope === GLOBAL_SCOPE ? 'No global scope.' : 'No spend has been recorded for that scope.',
      );
    return row;
  }
}

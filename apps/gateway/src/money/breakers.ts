import type { BreakerLevel, ScopeRow } from '../repositories/spend-repository.ts';
import type { UsdMicros } from '../domain/usd.ts';

/** Breaker thresholds in micro-USD of rolling-day spend (CIRCUIT_BREAKER_WARNING / _SOFT / _HARD / _EMERGENCY). */
export interface BreakerThresholds {
  warning: UsdMicros;
  soft: UsdMicros;
  hard: UsdMicros;
  emergency: UsdMicros;
}

/** The colour operators see for each level. Hard and emergency are both red; emergency is also latched. */
export const BREAKER_COLOURS: Record<BreakerLevel, 'green' | 'yellow' | 'orange' | 'red'> = {
  normal: 'green',
  warning: 'yellow',
  soft: 'orange',
  hard: 'red',
  emergency: 'red',
};

/** A scope's thresholds: its own where set, else the configured defaults. */
export function thresholdsOf(scope: ScopeRow, defaults: BreakerThresholds): BreakerThresholds {
  return {
    warning: scope.breaker.warning ?? defaults.warning,
    soft: scope.breaker.soft ?? defaults.soft,
    hard: scope.breaker.hard ?? defaults.hard,
    emergency: scope.breaker.emergency ?? defaults.emergency,
  };
}

/**
 * The level a scope is at with `spend` counted toward its breaker: each level is entered when spend reaches its
 * threshold exactly (≥). A latched emergency stays emergency, whatever the spend, until an owner resets it.
 */
export function breakerLevel(spend: UsdMicros, thresholds: BreakerThresholds, latched: boolean): BreakerLevel {
  if (latched || spend >= thresholds.emergency) return 'emergency';
  if (spend >= thresholds.hard) return 'hard';
  if (spend >= thresholds.soft) return 'soft';
  if (spend >= thresholds.warning) return 'warning';
  return 'normal';
}

const RANK: Record<BreakerLevel, number> = { normal: 0, warning: 1, soft: 2, hard: 3, emergency: 4 };

export function worstLevel(levels: Iterable<BreakerLevel>): BreakerLevel {
  let worst: BreakerLevel = 'normal';
  for (const level of levels) if (RANK[level] > RANK[worst]) worst = level;
  return worst;
}

export function levelRank(level: BreakerLevel): number {
  return RANK[level];
}

/** The threshold a level starts at (null for normal). */
export function thresholdOfLevel(level: BreakerLevel, t: BreakerThresholds): UsdMicros | null {
  return level === 'normal' ? null : t[level];
}

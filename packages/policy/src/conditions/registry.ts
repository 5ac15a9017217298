import type { ConditionDefinition } from '../condition.ts';
import { assetCondition } from './asset.condition.ts';
import { maxValueCondition } from './max-value.condition.ts';
import { recipientBlacklistCondition } from './recipient-blacklist.condition.ts';
import { recipientWhitelistCondition } from './recipient-whitelist.condition.ts';
import { transactionTypeCondition } from './transaction-type.condition.ts';

/**
 * Every condition of the policy language, in documentation order. Adding a condition means one file under
 * `src/conditions/` and one line here; the loader, evaluator, docs and linter read this list.
 */
export const CONDITIONS: readonly ConditionDefinition[] = Object.freeze([
  transactionTypeCondition,
  assetCondition,
  recipientWhitelistCondition,
  recipientBlacklistCondition,
  maxValueCondition,
]);

const byKey: ReadonlyMap<string, ConditionDefinition> = new Map(CONDITIONS.map((c) => [c.key, c]));

/** Look a condition up by the key a rule writes; undefined for an unknown key. */
export function getCondition(key: string): ConditionDefinition | undefined {
  return byKey.get(key);
}

import type { Static, TSchema } from 'typebox';
import type { ReasonCode } from '@clawd402/protocol';
import type { AvailableFacts, FactName } from './facts.ts';

/** What one compiled condition answers for one intent: holds, does not hold, or cannot tell (a fact is missing). */
export type ConditionResult = boolean | 'unknown';

/** A compiled condition: pure, synchronous, cheap; never throws for any input facts. */
export type ConditionTest = (facts: AvailableFacts) => ConditionResult;

/** Actions a rule can name. */
export const POLICY_ACTIONS = ['reject', 'auto_approve', 'require_human_approval'] as const;

/** One action a rule can name; the same values as the protocol's `DecisionAction`. */
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** Actions a loaded set may use: all of them (kept for callers that imported it while one was reserved). */
export const SUPPORTED_ACTIONS = POLICY_ACTIONS;

/** What {@link ConditionDefinition.compile} may read besides the condition's own value. */
export interface CompileContext {
  /**
   * The document's named address lists (`address_lists:`), each compiled to a Set of lowercase addresses. Address
   * list conditions resolve `"@name"` items against it.
   */
  readonly addressLists: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * One condition of the policy language. Each lives in its own file under `src/conditions/` and is listed once in
 * the registry; rule parsing and evaluation know nothing about individual conditions.
 */
export interface ConditionDefinition<S extends TSchema = TSchema> {
  /** The key a rule writes under `conditions:`. */
  readonly key: string;
  /** One sentence for docs and the linter. */
  readonly description: string;
  /** What a valid value looks like, completing "must be …" in load errors. */
  readonly expects: string;
  /** The facts the condition reads; if one is missing the condition answers `'unknown'`. */
  readonly facts: readonly FactName[];
  /** Shape of the value (typebox). Checked before `compile`; semantic checks happen in `compile`. */
  readonly schema: S;
  /**
   * Validate the value semantically and compile it into a test. Throws {@link ConditionValueError} for a value the
   * schema let through but that is still wrong (bad checksum, too many decimals). Runs once per load.
   */
  compile(value: Static<S>, context: CompileContext): ConditionTest;
  /** Reason added to the decision when a rule with this condition matches (e.g. `policy.recipient_blacklisted`). */
  readonly matchReason?: ReasonCode;
  /** If set, the only actions a rule using this condition may name (e.g. a blacklist only makes sense to reject). */
  readonly actions?: readonly PolicyAction[];
  /**
   * Names the reason when this condition answers `'unknown'` and so decides the intent (a reject): return a more
   * specific code than `policy.condition_unknown_fact` (USD conditions answer `price.unavailable` / `price.stale`),
   * or undefined for the generic one. Called only on that path, never while a rule matches normally.
   */
  unknownReason?(facts: AvailableFacts): UnknownReason | undefined;
}

/** A specific reason for an unknown answer; see {@link ConditionDefinition.unknownReason}. */
export interface UnknownReason {
  readonly code: ReasonCode;
  /** Completes "condition <key> could not be evaluated: …", e.g. "the asset's price is stale". */
  readonly detail: string;
}

/** One problem in a condition's value; `path` is relative to the condition (`''`, `'[3]'`). */
export interface ConditionValueIssue {
  path: string;
  message: string;
}

/** Thrown by {@link ConditionDefinition.compile} for a value that is well-shaped but wrong. */
export class ConditionValueError extends Error {
  readonly issues: readonly ConditionValueIssue[];
  constructor(issues: readonly ConditionValueIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    this.name = 'ConditionValueError';
    this.issues = issues;
  }
}

/** Declare a condition with its value type inferred from its schema. */
export function defineCondition<S extends TSchema>(definition: ConditionDefinition<S>): ConditionDefinition {
  return Object.freeze(definition);
}

/** The compile of a `true or false` condition: holds when the fact `read` returns equals the value; unknown if no boolean. */
export function equalsBooleanFact(read: (facts: AvailableFacts) => unknown): (value: boolean) => ConditionTest {
  return (value) => (facts) => {
    const fact = read(facts);
    if (typeof fact !== 'boolean') return 'unknown';
    return fact === value;
  };
}

/** The items of a value written as one item or a list, each with its issue path ('' alone, `[i]` in a list). */
export function oneOrListItems<T>(value: T | readonly T[]): { item: T; path: string }[] {
  return Array.isArray(value)
    ? (value as readonly T[]).map((item, index) => ({ item, path: `[${index}]` }))
    : [{ item: value as T, path: '' }];
}

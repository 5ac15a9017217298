import type { ReasonCode } from '@clawd402/protocol';
import type { ApprovalRequirement } from './approval.ts';
import type { ConditionDefinition, ConditionTest, PolicyAction } from './condition.ts';

/** One rule of a loaded set, as written (values frozen). */
export interface PolicyRule {
  readonly name: string;
  readonly description: string | undefined;
  readonly action: PolicyAction;
  /** Condition key → value as written in the document (a YAML number stays a number). */
  readonly conditions: Readonly<Record<string, unknown>>;
  /**
   * Only on a `require_human_approval` rule: its `notification` and `quorum`, normalised (camelCase, defaults
   * filled in: quorum 1, `excludeAgentOwner: false`). The decision carries a copy as `approval`.
   */
  readonly approval?: ApprovalRequirement;
}

/** A compiled, frozen policy set. Only {@link loadPolicySet} makes one; {@link evaluate} refuses look-alikes. */
export interface PolicySet {
  /** `sha256:<hex>` of the canonical JSON of the parsed document; recorded in every decision. */
  readonly hash: `sha256:${string}`;
  /** The rules in evaluation order. */
  readonly rules: readonly PolicyRule[];
  /** The document's named address lists (`address_lists:`), as written; `{}` when it has none. */
  readonly addressLists: Readonly<Record<string, readonly string[]>>;
  /** @internal compiled form */
  readonly [COMPILED]: CompiledPolicySet;
}

/** Module-private key of the compiled form; not exported from the package. */
export const COMPILED: unique symbol = Symbol('clawd402.policy.compiled');

/** @internal */
export interface CompiledRule {
  readonly name: string;
  /** `"name"` as JSON, for messages. */
  readonly label: string;
  readonly action: PolicyAction;
  readonly tests: readonly ConditionTest[];
  /** The condition keys, in the order of `tests`. */
  readonly keys: readonly string[];
  /** Message of the `policy.condition_unknown_fact` reason, per condition, in the order of `tests`. */
  readonly unknownMessages: readonly string[];
  /** Per condition, the definition's `unknownReason` (or undefined), in the order of `tests`. */
  readonly unknownReasons: readonly (ConditionDefinition['unknownReason'] | undefined)[];
  /** Reasons of a match: `policy.rule_matched` first, then any the conditions add. */
  readonly matchReasons: readonly { readonly code: ReasonCode; readonly message: string }[];
  /** Set exactly when `action` is `require_human_approval`. */
  readonly approval: ApprovalRequirement | undefined;
}

/** @internal */
export interface CompiledPolicySet {
  readonly hash: `sha256:${string}`;
  readonly rules: readonly CompiledRule[];
}

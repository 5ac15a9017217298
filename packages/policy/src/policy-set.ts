import type { ReasonCode } from '@clawd402/protocol';
import type { ConditionTest, PolicyAction } from './condition.ts';

/** One rule of a loaded set, as written (values frozen). */
export interface PolicyRule {
  readonly name: string;
  readonly description: string | undefined;
  readonly action: PolicyAction;
  /** Condition key → value as written in the document (a YAML number stays a number). */
  readonly conditions: Readonly<Record<string, unknown>>;
}

/** A compiled, frozen policy set. Only {@link loadPolicySet} makes one; {@link evaluate} refuses look-alikes. */
export interface PolicySet {
  /** `sha256:<hex>` of the canonical JSON of the parsed document; recorded in every decision. */
  readonly hash: `sha256:${string}`;
  /** The rules in evaluation order. */
  readonly rules: readonly PolicyRule[];
  /** @internal compiled form */
  readonly [COMPILED]: CompiledPolicySet;
}

/** Module-private key of the compiled form; not exported from the package. */
export const COMPILED: unique symbol = Symbol('clawd402.policy.compiled');

/** @internal */
export interface CompiledRule {
  readonly name: string;
  readonly action: 'reject' | 'auto_approve';
  readonly tests: readonly ConditionTest[];
  /** Message of the `policy.condition_unknown_fact` reason, per condition, in the order of `tests`. */
  readonly unknownMessages: readonly string[];
  /** Reasons of a match: `policy.rule_matched` first, then any the conditions add. */
  readonly matchReasons: readonly { readonly code: ReasonCode; readonly message: string }[];
}

/** @internal */
export interface CompiledPolicySet {
  readonly hash: `sha256:${string}`;
  readonly rules: readonly CompiledRule[];
}

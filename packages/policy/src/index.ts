/**
 * @clawd402/policy — pure policy evaluation. Parses and compiles a policy set (YAML or JSON) and decides intents
 * against it. No I/O, no environment, no clock, no framework: the gateway reads the text, supplies the facts and
 * acts on the decision.
 */
export {
  loadPolicySet,
  MAX_POLICY_RULES,
  MAX_RULE_DESCRIPTION_LENGTH,
  MAX_RULE_NAME_LENGTH,
} from './load-policy-set.ts';
export type { LoadPolicySetOptions } from './load-policy-set.ts';
export { evaluate } from './evaluate.ts';
export { PolicyLoadError } from './policy-load-error.ts';
export type { PolicyRule, PolicySet } from './policy-set.ts';
export { lintPolicySet, LINT_CODES } from './lint-policy-set.ts';
export type { LintCode, LintFinding, LintOptions, LintResult } from './lint-policy-set.ts';
export { APPROVER_ROLES, MAX_APPROVAL_TIMEOUT_SECONDS, MAX_QUORUM } from './approval.ts';
export type { ApprovalRequirement } from './approval.ts';
export { MAX_ADDRESS_LISTS } from './named-address-lists.ts';
export { policyDocumentSchema, policyJsonSchema, policySchemaText } from './policy-document.schema.ts';
export { MAX_ALIAS_EXPANSIONS, MAX_DEPTH, MAX_POLICY_TEXT_LENGTH } from './parse-document.ts';
export type { PolicyFormat, PolicyIssue } from './parse-document.ts';
export { TRANSACTION_TYPES, X402_PAYEE_STATUSES } from './facts.ts';
export type {
  AvailableFacts,
  CallFacts,
  FactName,
  IntentFacts,
  SimulationFacts,
  OriginFacts,
  SpendFacts,
  TransactionType,
  TypedDataFacts,
  X402Facts,
  X402PayeeStatus,
} from './facts.ts';
export { POLICY_ACTIONS, SUPPORTED_ACTIONS } from './condition.ts';
export type {
  CompileContext,
  ConditionDefinition,
  ConditionResult,
  ConditionTest,
  PolicyAction,
  UnknownReason,
} from './condition.ts';
export { CONDITIONS, getCondition } from './conditions/registry.ts';
export { MAX_ADDRESS_LIST_ITEMS } from './conditions/address-list.ts';
export { USD_DECIMALS } from './conditions/usd.ts';
export { WEEKDAYS } from './conditions/time-window.condition.ts';
export { selectorOfSignature } from './conditions/function-selector.condition.ts';
export { ruleLimits } from './rule-limits.ts';
export type { RuleLimit } from './rule-limits.ts';

import { createHash } from 'node:crypto';
import Value from 'typebox/value';
import { deepFreeze, REASON_CODES } from '@clawd402/protocol';
import { canonicalJson } from './canonical-json.ts';
import { parseApproval, type ApprovalRequirement } from './approval.ts';
import {
  ConditionValueError,
  POLICY_ACTIONS,
  type CompileContext,
  type ConditionDefinition,
  type ConditionTest,
  type PolicyAction,
} from './condition.ts';
import { CONDITIONS, getCondition } from './conditions/registry.ts';
import { parseAddressLists } from './named-address-lists.ts';
import { joinPath, parsePolicyDocument, type PolicyFormat, type PolicyIssue } from './parse-document.ts';
import { PolicyLoadError } from './policy-load-error.ts';
import { COMPILED, type CompiledRule, type PolicyRule, type PolicySet } from './policy-set.ts';

/** Most rules one set may hold. */
export const MAX_POLICY_RULES = 1000;
/** Longest rule name, in characters. */
export const MAX_RULE_NAME_LENGTH = 128;
/** Longest rule description, in characters. */
export const MAX_RULE_DESCRIPTION_LENGTH = 2000;

const TOP_LEVEL_KEYS: readonly string[] = ['policies', 'address_lists'];
const RULE_KEYS: readonly string[] = ['name', 'description', 'conditions', 'action', 'notification', 'quorum'];
/** Rule keys that only a `require_human_approval` rule may carry. */
const APPROVAL_KEYS: readonly string[] = ['notification', 'quorum'];
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Options of {@link loadPolicySet}. */
export interface LoadPolicySetOptions {
  /** Source format; default `'yaml'` (which also reads JSON, but without JSON's strict syntax check). */
  format?: PolicyFormat;
}

/**
 * Parse, validate and compile a policy set. Strict: any unknown key, unknown condition, bad value, duplicate or empty
 * rule name, unknown action or unknown `@list` reference makes it throw a {@link PolicyLoadError} listing every issue found; nothing is
 * half-loaded. The result is frozen and ready for {@link evaluate}.
 *
 * @example
 * const set = loadPolicySet(`
 * policies:
 *   - name: small_transfers
 *     conditions: { transaction_type: transfer, asset: native, max_value: "0.1" }
 *     action: auto_approve
 * `);
 * set.hash; // 'sha256:…'
 */
export function loadPolicySet(text: string, options: LoadPolicySetOptions = {}): PolicySet {
  const format = options.format ?? 'yaml';
  if (format !== 'yaml' && format !== 'json') {
    throw new PolicyLoadError([
      { path: '', message: `unknown format ${JSON.stringify(format)}; use 'yaml' or 'json'` },
    ]);
  }
  if (typeof text !== 'string') throw new PolicyLoadError([{ path: '', message: 'the policy text must be a string' }]);
  const parsed = parsePolicyDocument(text, format);
  if (!parsed.ok) throw new PolicyLoadError(parsed.issues);
  const document = parsed.value;

  const issues: PolicyIssue[] = [];
  if (!isRecord(document)) {
    throw new PolicyLoadError([{ path: '', message: 'the document must be a mapping with a `policies` list' }]);
  }
  for (const key of Object.keys(document)) {
    if (!TOP_LEVEL_KEYS.includes(key)) {
      issues.push({
        path: joinPath('', key),
        message: 'is not a known top-level key (expected `policies` and optionally `address_lists`)',
      });
    }
  }
  const addressLists = parseAddressLists(document, issues);
  const context: CompileContext = { addressLists: addressLists.compiled };
  const policies = document['policies'];
  const compiled: CompiledRule[] = [];
  const rules: PolicyRule[] = [];
  if (!Object.hasOwn(document, 'policies')) {
    issues.push({ path: 'policies', message: 'is required' });
  } else if (!Array.isArray(policies)) {
    issues.push({ path: 'policies', message: 'must be a list of rules' });
  } else if (policies.length > MAX_POLICY_RULES) {
    issues.push({
      path: 'policies',
      message: `holds ${policies.length} rules; at most ${MAX_POLICY_RULES} are allowed`,
    });
  } else {
    const seen = new Map<string, number>();
    policies.forEach((raw, index) => {
      const result = compileRule(raw, index, seen, issues, context);
      if (result !== undefined) {
        compiled.push(result.compiled);
        rules.push(result.rule);
      }
    });
  }
  if (issues.length > 0) throw new PolicyLoadError(issues);

  const hash = `sha256:${createHash('sha256').update(canonicalJson(document), 'utf8').digest('hex')}` as const;
  const set: PolicySet = {
    hash,
    rules: Object.freeze(rules),
    addressLists: addressLists.written,
    [COMPILED]: Object.freeze({ hash, rules: Object.freeze(compiled) }),
  };
  Object.defineProperty(set, COMPILED, { enumerable: false });
  return Object.freeze(set);
}

function compileRule(
  raw: unknown,
  index: number,
  seen: Map<string, number>,
  issues: PolicyIssue[],
  context: CompileContext,
): { rule: PolicyRule; compiled: CompiledRule } | undefined {
  const path = joinPath('policies', index);
  const before = issues.length;
  if (!isRecord(raw)) {
    issues.push({ path, message: 'must be a mapping with name, conditions and action' });
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (!RULE_KEYS.includes(key)) {
      issues.push({ path: joinPath(path, key), message: `is not a rule key (expected ${RULE_KEYS.join(', ')})` });
    }
  }

  const name = raw['name'];
  const namePath = joinPath(path, 'name');
  if (!Object.hasOwn(raw, 'name')) issues.push({ path: namePath, message: 'is required' });
  else if (typeof name !== 'string') issues.push({ path: namePath, message: 'must be a string' });
  else if (name.trim() === '') issues.push({ path: namePath, message: 'must not be empty' });
  else if (name.length > MAX_RULE_NAME_LENGTH)
    issues.push({ path: namePath, message: `is longer than ${MAX_RULE_NAME_LENGTH} characters` });
  else if (CONTROL_CHARACTERS.test(name))
    issues.push({ path: namePath, message: 'must not contain control characters or line breaks' });
  else if (name !== name.trim()) issues.push({ path: namePath, message: 'must not start or end with whitespace' });
  else if (seen.has(name))
    issues.push({ path: namePath, message: `duplicates the name of policies[${seen.get(name)}]` });
  else seen.set(name, index);

  const description = raw['description'];
  const descriptionPath = joinPath(path, 'description');
  if (Object.hasOwn(raw, 'description')) {
    if (typeof description !== 'string') issues.push({ path: descriptionPath, message: 'must be a string' });
    else if (description.length > MAX_RULE_DESCRIPTION_LENGTH) {
      issues.push({ path: descriptionPath, message: `is longer than ${MAX_RULE_DESCRIPTION_LENGTH} characters` });
    }
  }

  const action = raw['action'];
  const actionPath = joinPath(path, 'action');
  let supportedAction: PolicyAction | undefined;
  if (!Object.hasOwn(raw, 'action')) issues.push({ path: actionPath, message: 'is required' });
  else if (isPolicyAction(action)) supportedAction = action;
  else issues.push({ path: actionPath, message: `must be one of ${POLICY_ACTIONS.join(', ')}` });

  let approval: ApprovalRequirement | undefined;
  if (supportedAction === 'require_human_approval') {
    approval = parseApproval(raw, path, issues);
  } else {
    for (const key of APPROVAL_KEYS) {
      if (Object.hasOwn(raw, key)) {
        issues.push({
          path: joinPath(path, key),
          message: 'is only allowed in a rule whose action is require_human_approval',
        });
      }
    }
  }

  const conditions = raw['conditions'];
  const conditionsPath = joinPath(path, 'conditions');
  const tests: ConditionTest[] = [];
  const keys: string[] = [];
  const unknownMessages: string[] = [];
  const unknownReasons: (ConditionDefinition['unknownReason'] | undefined)[] = [];
  const matchReasons: { code: keyof typeof REASON_CODES; message: string }[] = [];
  const label = typeof name === 'string' ? JSON.stringify(name) : '';
  if (!Object.hasOwn(raw, 'conditions')) {
    issues.push({ path: conditionsPath, message: 'is required (write `conditions: {}` to match every intent)' });
  } else if (!isRecord(conditions)) {
    issues.push({ path: conditionsPath, message: 'must be a mapping of condition names to values' });
  } else {
    for (const [key, value] of Object.entries(conditions)) {
      const conditionPath = joinPath(conditionsPath, key);
      const definition = getCondition(key);
      if (definition === undefined) {
        issues.push({
          path: conditionPath,
          message: `is not a known condition (known: ${CONDITIONS.map((c) => c.key).join(', ')})`,
        });
        continue;
      }
      if (!Value.Check(definition.schema, value)) {
        issues.push({ path: conditionPath, message: `must be ${definition.expects}` });
        continue;
      }
      try {
        tests.push(definition.compile(value, context));
      } catch (error) {
        if (!(error instanceof ConditionValueError)) throw error;
        for (const issue of error.issues) issues.push({ path: conditionPath + issue.path, message: issue.message });
        continue;
      }
      keys.push(key);
      unknownReasons.push(definition.unknownReason?.bind(definition));
      unknownMessages.push(
        `Rule ${label} could not be evaluated: condition ${key} needs the ${definition.facts.join(' and ')} fact${
          definition.facts.length === 1 ? '' : 's'
        }, which the gateway does not have for this intent; failing closed.`,
      );
      if (definition.matchReason !== undefined) {
        matchReasons.push({ code: definition.matchReason, message: matchReasonMessage(definition.matchReason, label) });
      }
      if (definition.actions !== undefined && isPolicyAction(action) && !definition.actions.includes(action)) {
        issues.push({
          path: actionPath,
          message: `must be ${definition.actions.join(' or ')} in a rule using ${key}`,
        });
      }
    }
  }

  if (issues.length > before || supportedAction === undefined || typeof name !== 'string' || !isRecord(conditions)) {
    return undefined;
  }
  const rule: PolicyRule = Object.freeze({
    name,
    description: typeof description === 'string' ? description : undefined,
    action: supportedAction,
    conditions: deepFreeze(conditions),
    ...(approval === undefined ? {} : { approval }),
  });
  const compiled: CompiledRule = Object.freeze({
    name,
    label,
    action: supportedAction,
    tests: Object.freeze(tests),
    keys: Object.freeze(keys),
    unknownMessages: Object.freeze(unknownMessages),
    unknownReasons: Object.freeze(unknownReasons),
    approval,
    matchReasons: Object.freeze([
      { code: 'policy.rule_matched' as const, message: `Rule ${label} matched; action ${supportedAction}.` },
      ...matchReasons,
    ]),
  });
  return { rule, compiled };
}

function matchReasonMessage(code: keyof typeof REASON_CODES, label: string): string {
  if (code === 'policy.recipient_blacklisted') return `The recipient is on the recipient_blacklist of rule ${label}.`;
  if (code === 'policy.spender_blacklisted') return `The spender is on the spender_blacklist of rule ${label}.`;
  return `${REASON_CODES[code]} (rule ${label})`;
}

function isPolicyAction(value: unknown): value is PolicyAction {
  return typeof value === 'string' && (POLICY_ACTIONS as readonly string[]).includes(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

import { createHash } from 'node:crypto';
import Value from 'typebox/value';
import { REASON_CODES } from '@clawd402/protocol';
import { canonicalJson } from './canonical-json.ts';
import {
  ConditionValueError,
  POLICY_ACTIONS,
  SUPPORTED_ACTIONS,
  type ConditionTest,
  type PolicyAction,
} from './condition.ts';
import { CONDITIONS, getCondition } from './conditions/registry.ts';
import { joinPath, parsePolicyDocument, type PolicyFormat, type PolicyIssue } from './parse-document.ts';
import { PolicyLoadError } from './policy-load-error.ts';
import { COMPILED, type CompiledRule, type PolicyRule, type PolicySet } from './policy-set.ts';

/** Most rules one set may hold. */
export const MAX_POLICY_RULES = 1000;
/** Longest rule name, in characters. */
export const MAX_RULE_NAME_LENGTH = 128;
/** Longest rule description, in characters. */
export const MAX_RULE_DESCRIPTION_LENGTH = 2000;

const TOP_LEVEL_KEYS: readonly string[] = ['policies'];
const RULE_KEYS: readonly string[] = ['name', 'description', 'conditions', 'action'];
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Options of {@link loadPolicySet}. */
export interface LoadPolicySetOptions {
  /** Source format; default `'yaml'` (which also reads JSON, but without JSON's strict syntax check). */
  format?: PolicyFormat;
}

/**
 * Parse, validate and compile a policy set. Strict: any unknown key, unknown condition, bad value, duplicate or empty
 * rule name, or a reserved action makes it throw a {@link PolicyLoadError} listing every issue found; nothing is
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
    throw new PolicyLoadError([{ path: '', message: `unknown format ${JSON.stringify(format)}; use 'yaml' or 'json'` }]);
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
    if (!TOP_LEVEL_KEYS.includes(key)) issues.push({ path: joinPath('', key), message: 'is not a known top-level key (expected only `policies`)' });
  }
  const policies = document['policies'];
  const compiled: CompiledRule[] = [];
  const rules: PolicyRule[] = [];
  if (!Object.hasOwn(document, 'policies')) {
    issues.push({ path: 'policies', message: 'is required' });
  } else if (!Array.isArray(policies)) {
    issues.push({ path: 'policies', message: 'must be a list of rules' });
  } else if (policies.length > MAX_POLICY_RULES) {
    issues.push({ path: 'policies', message: `holds ${policies.length} rules; at most ${MAX_POLICY_RULES} are allowed` });
  } else {
    const seen = new Map<string, number>();
    policies.forEach((raw, index) => {
      const result = compileRule(raw, index, seen, issues);
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
  else if (name.length > MAX_RULE_NAME_LENGTH) issues.push({ path: namePath, message: `is longer than ${MAX_RULE_NAME_LENGTH} characters` });
  else if (CONTROL_CHARACTERS.test(name)) issues.push({ path: namePath, message: 'must not contain control characters or line breaks' });
  else if (name !== name.trim()) issues.push({ path: namePath, message: 'must not start or end with whitespace' });
  else if (seen.has(name)) issues.push({ path: namePath, message: `duplicates the name of policies[${seen.get(name)}]` });
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
  let supportedAction: 'reject' | 'auto_approve' | undefined;
  if (!Object.hasOwn(raw, 'action')) issues.push({ path: actionPath, message: 'is required' });
  else if (action === 'require_human_approval') {
    issues.push({
      path: actionPath,
      message:
        'require_human_approval is not supported yet: the approval workflow does not exist, so a set using it is refused (fail closed)',
    });
  } else if (action === 'reject' || action === 'auto_approve') supportedAction = action;
  else issues.push({ path: actionPath, message: `must be one of ${SUPPORTED_ACTIONS.join(', ')}` });

  const conditions = raw['conditions'];
  const conditionsPath = joinPath(path, 'conditions');
  const tests: ConditionTest[] = [];
  const unknownMessages: string[] = [];
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
        tests.push(definition.compile(value));
      } catch (error) {
        if (!(error instanceof ConditionValueError)) throw error;
        for (const issue of error.issues) issues.push({ path: conditionPath + issue.path, message: issue.message });
        continue;
      }
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
  });
  const compiled: CompiledRule = Object.freeze({
    name,
    action: supportedAction,
    tests: Object.freeze(tests),
    unknownMessages: Object.freeze(unknownMessages),
    matchReasons: Object.freeze([
      { code: 'policy.rule_matched' as const, message: `Rule ${label} matched; action ${supportedAction}.` },
      ...matchReasons,
    ]),
  });
  return { rule, compiled };
}

function matchReasonMessage(code: keyof typeof REASON_CODES, label: string): string {
  if (code === 'policy.recipient_blacklisted') return `The recipient is on the recipient_blacklist of rule ${label}.`;
  return `${REASON_CODES[code]} (rule ${label})`;
}

function isPolicyAction(value: unknown): value is PolicyAction {
  return typeof value === 'string' && (POLICY_ACTIONS as readonly string[]).includes(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

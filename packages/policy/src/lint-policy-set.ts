import { ZERO_ADDRESS } from '@clawd402/protocol';
import { LIST_REFERENCE } from './conditions/address-list.ts';
import { joinPath } from './parse-document.ts';
import type { PolicyRule, PolicySet } from './policy-set.ts';

/**
 * Every finding the linter can report, with its default severity. Codes are stable API (docs/policy.md lists
 * them); `channel_not_configured` is a warning outside production and an error in production.
 */
export const LINT_CODES = {
  no_final_deny: {
    severity: 'error',
    meaning: 'The last rule is not a match-all (`conditions: {}`) reject or require_human_approval.',
  },
  approval_without_timeout: {
    severity: 'error',
    meaning: 'A require_human_approval rule has no `notification.timeout`.',
  },
  channel_not_configured: {
    severity: 'warning',
    meaning: 'A rule notifies a channel the gateway has not configured (an error in production).',
  },
  approval_without_escalation: {
    severity: 'warning',
    meaning: 'A require_human_approval rule has no `notification.escalation`.',
  },
  zero_address_not_blocked: {
    severity: 'warning',
    meaning: 'No reachable rule rejects the zero address for every intent.',
  },
  unverified_contracts_not_blocked: {
    severity: 'warning',
    meaning: 'Contract calls to unverified contracts are neither rejected nor excluded from auto-approval.',
  },
  auto_approve_without_daily_limit: { severity: 'warning', meaning: 'An auto_approve rule has no `daily_limit_usd`.' },
  unreachable_rule: { severity: 'warning', meaning: 'A rule comes after a match-all rule, so it can never decide.' },
  unused_address_list: { severity: 'warning', meaning: 'A named list under `address_lists` is referenced nowhere.' },
} as const satisfies Record<string, { severity: 'error' | 'warning'; meaning: string }>;

/** One stable lint code; see {@link LINT_CODES}. */
export type LintCode = keyof typeof LINT_CODES;

/** One finding: a stable code, the rule it concerns (if any), a path like those of load errors, and a sentence. */
export interface LintFinding {
  readonly code: LintCode;
  readonly rule?: string;
  readonly path: string;
  readonly message: string;
}

/** What the linter needs to know about the gateway it checks the set for. */
export interface LintOptions {
  /** Names of the notification channels the gateway has configured (e.g. `['email', 'slack']`). */
  readonly configuredChannels: readonly string[];
  /** In production, an unconfigured channel is an error rather than a warning. */
  readonly production: boolean;
}

/** Findings split by severity; a set with any `errors` should not be activated. */
export interface LintResult {
  readonly errors: LintFinding[];
  readonly warnings: LintFinding[];
}

/** Transaction types that are contract calls (a verified-contract check applies to them). */
const CONTRACT_CALL_TYPES: readonly string[] = ['contract_call', 'approve', 'swap'];

/**
 * Check a loaded set for mistakes that load fine but are unsafe or surprising: no explicit final deny, approvals
 * that never time out, notification channels the gateway cannot reach, unreachable rules, auto-approval without a
 * daily limit, unblocked zero address or unverified contracts. Pure; the gateway decides what to do with the result
 * (refuse to activate a set with errors, log warnings).
 *
 * @example
 * const { errors, warnings } = lintPolicySet(set, { configuredChannels: ['email'], production: true });
 */
export function lintPolicySet(set: PolicySet, options: LintOptions): LintResult {
  const errors: LintFinding[] = [];
  const warnings: LintFinding[] = [];
  const channels = new Set(options.configuredChannels);
  const add = (
    code: LintCode,
    path: string,
    message: string,
    rule?: PolicyRule,
    severity?: 'error' | 'warning',
  ): void => {
    const finding: LintFinding =
      rule === undefined ? { code, path, message } : { code, rule: rule.name, path, message };
    ((severity ?? LINT_CODES[code].severity) === 'error' ? errors : warnings).push(finding);
  };
  const rules = set.rules;
  const rulePath = (index: number): string => joinPath('policies', index);
  const matchAll = rules.findIndex((rule) => Object.keys(rule.conditions).length === 0);
  const reachable = matchAll === -1 ? rules : rules.slice(0, matchAll + 1);

  // The last rule is an explicit match-all that does not approve on its own.
  const last = rules.at(-1);
  if (last === undefined) {
    add(
      'no_final_deny',
      'policies',
      'The set has no rules; end it with a match-all reject (`conditions: {}`, `action: reject`).',
    );
  } else if (Object.keys(last.conditions).length !== 0 || last.action === 'auto_approve') {
    add(
      'no_final_deny',
      rulePath(rules.length - 1),
      last.action === 'auto_approve' && Object.keys(last.conditions).length === 0
        ? `The last rule ${JSON.stringify(last.name)} auto-approves everything; end the set with a match-all reject or require_human_approval.`
        : `The last rule ${JSON.stringify(last.name)} is not a match-all; end the set with \`conditions: {}\` and action reject or require_human_approval.`,
      last,
    );
  }

  // Rules after the first match-all can never decide.
  if (matchAll !== -1) {
    for (let index = matchAll + 1; index < rules.length; index++) {
      add(
        'unreachable_rule',
        rulePath(index),
        `Rule ${JSON.stringify(rules[index]!.name)} comes after the match-all rule ${JSON.stringify(rules[matchAll]!.name)} and can never decide.`,
        rules[index],
      );
    }
  }

  rules.forEach((rule, index) => {
    const path = rulePath(index);
    if (rule.action === 'auto_approve' && !Object.hasOwn(rule.conditions, 'daily_limit_usd')) {
      add(
        'auto_approve_without_daily_limit',
        path,
        `Rule ${JSON.stringify(rule.name)} auto-approves without a daily_limit_usd.`,
        rule,
      );
    }
    const approval = rule.approval;
    if (rule.action !== 'require_human_approval' || approval === undefined) return;
    const notificationPath = joinPath(path, 'notification');
    if (approval.notification.timeoutSeconds === undefined) {
      add(
        'approval_without_timeout',
        joinPath(notificationPath, 'timeout'),
        `Rule ${JSON.stringify(rule.name)} asks for approval without notification.timeout; the approval would wait forever.`,
        rule,
      );
    }
    if (approval.notification.escalation === undefined) {
      add(
        'approval_without_escalation',
        joinPath(notificationPath, 'escalation'),
        `Rule ${JSON.stringify(rule.name)} has no notification.escalation; nobody else is told when the first channels do not answer.`,
        rule,
      );
    }
    const named: [string, readonly string[]][] = [
      [joinPath(notificationPath, 'channels'), approval.notification.channels],
    ];
    if (approval.notification.escalation !== undefined) {
      named.push([
        joinPath(joinPath(notificationPath, 'escalation'), 'channels'),
        approval.notification.escalation.channels,
      ]);
    }
    for (const [channelsPath, list] of named) {
      list.forEach((channel, i) => {
        if (channels.has(channel)) return;
        add(
          'channel_not_configured',
          joinPath(channelsPath, i),
          `Rule ${JSON.stringify(rule.name)} notifies channel ${JSON.stringify(channel)}, which the gateway has not configured.`,
          rule,
          options.production ? 'error' : 'warning',
        );
      });
    }
  });

  // The zero address is rejected for every intent by a reachable rule (the gateway also refuses it as a recipient).
  const zero = ZERO_ADDRESS.toLowerCase();
  const blocksZero = reachable.some(
    (rule) =>
      rule.action === 'reject' &&
      onlyKeys(rule, ['recipient_blacklist']) &&
      resolve(set, rule.conditions['recipient_blacklist']).has(zero),
  );
  if (!blocksZero) {
    add(
      'zero_address_not_blocked',
      '',
      'No reachable rule rejects the zero address for every intent; add a recipient_blacklist rule for it first.',
    );
  }

  // Contract calls to unverified contracts are rejected, or no auto-approving rule can match them.
  const blocksUnverified = reachable.some(
    (rule) =>
      rule.action === 'reject' &&
      rule.conditions['contract_verified'] === false &&
      onlyKeys(rule, ['contract_verified', 'transaction_type']) &&
      mayBeContractCall(rule, ['contract_call']),
  );
  const approvesUnverified = reachable.some(
    (rule) =>
      rule.action === 'auto_approve' &&
      rule.conditions['contract_verified'] !== true &&
      mayBeContractCall(rule, CONTRACT_CALL_TYPES),
  );
  if (!blocksUnverified && approvesUnverified) {
    add(
      'unverified_contracts_not_blocked',
      '',
      'Contract calls to unverified contracts may be auto-approved; add a rule { transaction_type: contract_call, contract_verified: false } → reject.',
    );
  }

  // Named lists nobody references.
  const referenced = new Set<string>();
  for (const rule of rules) collectReferences(rule.conditions, referenced);
  for (const name of Object.keys(set.addressLists)) {
    if (!referenced.has(name))
      add(
        'unused_address_list',
        joinPath('address_lists', name),
        `The address list ${JSON.stringify(name)} is not referenced by any rule.`,
      );
  }

  return { errors, warnings };
}

function onlyKeys(rule: PolicyRule, allowed: readonly string[]): boolean {
  return Object.keys(rule.conditions).every((key) => allowed.includes(key));
}

/** Whether a rule's transaction_type (absent: every type) includes one of `types`. */
function mayBeContractCall(rule: PolicyRule, types: readonly string[]): boolean {
  const written = rule.conditions['transaction_type'];
  if (written === undefined) return true;
  const listed = typeof written === 'string' ? [written] : (written as readonly string[]);
  return listed.some((type) => types.includes(type));
}

/** The lowercase addresses of an address list condition, with `@name` references resolved. */
function resolve(set: PolicySet, value: unknown): ReadonlySet<string> {
  const out = new Set<string>();
  if (!Array.isArray(value)) return out;
  for (const item of value as readonly string[]) {
    const reference = LIST_REFERENCE.exec(item);
    const name = reference?.[1];
    const members = name === undefined ? [item] : Object.hasOwn(set.addressLists, name) ? set.addressLists[name]! : [];
    for (const member of members) out.add(member.toLowerCase());
  }
  return out;
}

function collectReferences(value: unknown, into: Set<string>): void {
  if (typeof value === 'string') {
    const reference = LIST_REFERENCE.exec(value);
    if (reference !== null) into.add(reference[1]!);
  } else if (Array.isArray(value)) {
    for (const item of value) collectReferences(item, into);
  } else if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) collectReferences(item, into);
  }
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LINT_CODES, lintPolicySet, loadPolicySet, type LintResult } from '../src/index.ts';
import { ALICE } from './fixtures.ts';

const ZERO = '0x0000000000000000000000000000000000000000';
const SAFE_HEAD = `
  - name: block_zero_address
    conditions: { recipient_blacklist: ["${ZERO}"] }
    action: reject
  - name: block_unverified_contracts
    conditions: { transaction_type: contract_call, contract_verified: false }
    action: reject`;
const DENY = `
  - name: default_deny
    conditions: {}
    action: reject`;
const ASK = `
  - name: ask
    conditions: { min_value_usd: 100 }
    action: require_human_approval
    notification: { channels: [email], timeout: 600, escalation: { channels: [slack], timeout: 600 } }`;

function lint(body: string, options = { configuredChannels: ['email', 'slack'], production: false }): LintResult {
  return lintPolicySet(loadPolicySet(`policies:${body}\n`), options);
}
const codes = (findings: readonly { code: string }[]) => findings.map((f) => f.code);

describe('lintPolicySet', () => {
  it('a careful set has no findings', () => {
    const result = lint(`${SAFE_HEAD}
  - name: small
    conditions: { transaction_type: transfer, max_value_usd: 100, daily_limit_usd: 500, recipient_whitelist: ["${ALICE}"] }
    action: auto_approve${ASK}${DENY}`);
    assert.deepEqual(result, { errors: [], warnings: [] });
  });

  it('the seed policy has no errors; it warns about its missing escalation', () => {
    const seed = loadPolicySet(readFileSync(new URL('../examples/seed-policy.yaml', import.meta.url), 'utf8'));
    const result = lintPolicySet(seed, { configuredChannels: ['email', 'slack'], production: true });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, [
      {
        code: 'approval_without_escalation',
        rule: 'approve_large_operations',
        path: 'policies[3].notification.escalation',
        message:
          'Rule "approve_large_operations" has no notification.escalation; nobody else is told when the first channels do not answer.',
      },
    ]);
  });

  it('the dev policy has no errors (the gateway imports it at first boot)', () => {
    const dev = loadPolicySet(readFileSync(new URL('../examples/dev-policy.yaml', import.meta.url), 'utf8'));
    const result = lintPolicySet(dev, { configuredChannels: [], production: false });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(codes(result.warnings), ['auto_approve_without_daily_limit', 'zero_address_not_blocked']);
  });

  it('error: a set without a final deny', () => {
    const result = lint(`${SAFE_HEAD}${ASK}`);
    assert.deepEqual(codes(result.errors), ['no_final_deny']);
    assert.equal(result.errors[0]!.path, 'policies[2]');
    assert.equal(result.errors[0]!.rule, 'ask');
    assert.deepEqual(codes(lint(' []').errors), ['no_final_deny']);
    // a final match-all that approves is not a deny either
    assert.deepEqual(codes(lint(`${SAFE_HEAD}\n  - name: all\n    conditions: {}\n    action: auto_approve`).errors), [
      'no_final_deny',
    ]);
    // a final match-all require_human_approval is accepted
    const ask = `\n  - name: ask_all\n    conditions: {}\n    action: require_human_approval\n    notification: { channels: [email], timeout: 60, escalation: { channels: [slack], timeout: 60 } }`;
    assert.deepEqual(lint(`${SAFE_HEAD}${ask}`), { errors: [], warnings: [] });
  });

  it('error: an approval rule without a timeout', () => {
    const result = lint(`${SAFE_HEAD}
  - name: ask
    conditions: { min_value_usd: 100 }
    action: require_human_approval
    notification: { channels: [email], escalation: { channels: [slack], timeout: 600 } }${DENY}`);
    assert.deepEqual(result.errors, [
      {
        code: 'approval_without_timeout',
        rule: 'ask',
        path: 'policies[2].notification.timeout',
        message: 'Rule "ask" asks for approval without notification.timeout; the approval would wait forever.',
      },
    ]);
    const bare = lint(
      `${SAFE_HEAD}\n  - name: ask\n    conditions: { min_value_usd: 100 }\n    action: require_human_approval${DENY}`,
    );
    assert.deepEqual(codes(bare.errors), ['approval_without_timeout']);
    assert.deepEqual(codes(bare.warnings), ['approval_without_escalation']);
  });

  it('unconfigured channels: a warning outside production, an error in production', () => {
    const body = `${SAFE_HEAD}${ASK}${DENY}`;
    const dev = lint(body, { configuredChannels: ['email'], production: false });
    assert.deepEqual(dev.errors, []);
    assert.deepEqual(
      dev.warnings.map((f) => [f.code, f.path]),
      [['channel_not_configured', 'policies[2].notification.escalation.channels[0]']],
    );
    const prod = lint(body, { configuredChannels: [], production: true });
    assert.deepEqual(
      prod.errors.map((f) => [f.code, f.path]),
      [
        ['channel_not_configured', 'policies[2].notification.channels[0]'],
        ['channel_not_configured', 'policies[2].notification.escalation.channels[0]'],
      ],
    );
  });

  it('warnings: zero address, unverified contracts, daily limits, unreachable rules, unused lists', () => {
    const result = lintPolicySet(
      loadPolicySet(`
address_lists:
  unused: ["${ALICE}"]
policies:
  - name: anything_small
    conditions: { max_value_usd: 10 }
    action: auto_approve${DENY}
  - name: after_deny
    conditions: { transaction_type: transfer }
    action: reject
`),
      { configuredChannels: [], production: true },
    );
    assert.deepEqual(codes(result.errors), ['no_final_deny']);
    assert.deepEqual(
      result.warnings.map((f) => [f.code, f.path]),
      [
        ['unreachable_rule', 'policies[2]'],
        ['auto_approve_without_daily_limit', 'policies[0]'],
        ['zero_address_not_blocked', ''],
        ['unverified_contracts_not_blocked', ''],
        ['unused_address_list', 'address_lists.unused'],
      ],
    );
  });

  it('the zero address counts as blocked through an @list, and not when the rule is unreachable', () => {
    const viaList = lintPolicySet(
      loadPolicySet(
        `address_lists:\n  burn: ["${ZERO}"]\npolicies:\n  - name: b\n    conditions: { recipient_blacklist: ["@burn"] }\n    action: reject${DENY}\n`,
      ),
      { configuredChannels: [], production: false },
    );
    assert.deepEqual(viaList, { errors: [], warnings: [] });
    const late = lint(`${DENY}${SAFE_HEAD}`);
    assert.ok(codes(late.warnings).includes('zero_address_not_blocked'));
  });

  it('auto-approving only transfers, or only verified contracts, needs no unverified-contract block', () => {
    const transfersOnly = lint(`\n  - name: b\n    conditions: { recipient_blacklist: ["${ZERO}"] }\n    action: reject
  - name: t\n    conditions: { transaction_type: transfer, daily_limit_usd: 10 }\n    action: auto_approve${DENY}`);
    assert.deepEqual(transfersOnly, { errors: [], warnings: [] });
    const verifiedOnly = lint(`\n  - name: b\n    conditions: { recipient_blacklist: ["${ZERO}"] }\n    action: reject
  - name: c\n    conditions: { contract_verified: true, daily_limit_usd: 10 }\n    action: auto_approve${DENY}`);
    assert.deepEqual(verifiedOnly, { errors: [], warnings: [] });
  });

  it('every code is catalogued with a severity', () => {
    for (const [code, entry] of Object.entries(LINT_CODES)) {
      assert.match(code, /^[a-z_]+$/);
      assert.ok(entry.severity === 'error' || entry.severity === 'warning');
    }
  });
});

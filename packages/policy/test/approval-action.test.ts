import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from 'typebox/value';
import { Decision } from '@clawd402/protocol';
import { evaluate, loadPolicySet, PolicyLoadError } from '../src/index.ts';
import { facts } from './fixtures.ts';

function rule(extra: string, conditions = '{}'): string {
  return `policies:\n  - name: ask\n    conditions: ${conditions}\n    action: require_human_approval\n${extra}`;
}

function issues(text: string): { path: string; message: string }[] {
  try {
    loadPolicySet(text);
    return [];
  } catch (error) {
    assert.ok(error instanceof PolicyLoadError);
    return error.issues.map((i) => ({ path: i.path, message: i.message }));
  }
}

describe('require_human_approval', () => {
  it('loads, and the decision carries the approval with policySetHash and the rule name', () => {
    const set = loadPolicySet(
      rule(`    notification:
      channels: [email, slack]
      timeout: 1800
      escalation: { channels: [pagerduty], timeout: 3600 }
    quorum: { required: 2, approvers: [alice, "7d1c9a4e-0000-4000-8000-000000000001", bob], role: [owner, approver], exclude_agent_owner: true }
`),
    );
    const decision = evaluate(set, facts());
    assert.deepEqual(decision, {
      action: 'require_human_approval',
      policy: 'ask',
      policySetHash: set.hash,
      reasons: [{ code: 'policy.rule_matched', message: 'Rule "ask" matched; action require_human_approval.' }],
      approval: {
        notification: {
          channels: ['email', 'slack'],
          timeoutSeconds: 1800,
          escalation: { channels: ['pagerduty'], timeoutSeconds: 3600 },
        },
        quorum: {
          required: 2,
          approvers: ['alice', '7d1c9a4e-0000-4000-8000-000000000001', 'bob'],
          roles: ['owner', 'approver'],
          excludeAgentOwner: true,
        },
      },
    });
    assert.ok(Value.Check(Decision, decision), 'the decision matches the protocol schema');
    assert.deepEqual(set.rules[0]!.approval, decision.approval);
  });

  it('defaults: quorum 1 of anyone with the approve permission; no channels, no timeout', () => {
    const set = loadPolicySet(rule(''));
    const decision = evaluate(set, facts());
    assert.deepEqual(decision.approval, {
      notification: { channels: [] },
      quorum: { required: 1, excludeAgentOwner: false },
    });
    assert.ok(Value.Check(Decision, decision));
    assert.deepEqual(
      evaluate(loadPolicySet(rule('    quorum: { required: 1, role: admin }\n')), facts()).approval!.quorum,
      { required: 1, roles: ['admin'], excludeAgentOwner: false },
    );
  });

  it('each decision gets its own copy of the approval', () => {
    const set = loadPolicySet(rule('    notification: { channels: [email], timeout: 60 }\n'));
    const first = evaluate(set, facts());
    first.approval!.notification.channels.push('sms');
    first.approval!.quorum.required = 5;
    assert.deepEqual(evaluate(set, facts()).approval, {
      notification: { channels: ['email'], timeoutSeconds: 60 },
      quorum: { required: 1, excludeAgentOwner: false },
    });
    assert.ok(Object.isFrozen(set.rules[0]!.approval!.notification.channels));
  });

  it('an unknown fact in an approval rule rejects; it never asks a human about an intent it could not read', () => {
    const set = loadPolicySet(rule('    notification: { channels: [email], timeout: 60 }\n', '{ min_value_usd: 100 }'));
    const decision = evaluate(set, facts());
    assert.equal(decision.action, 'reject');
    assert.equal(decision.approval, undefined);
    assert.deepEqual(
      decision.reasons.map((r) => r.code),
      ['price.unavailable'],
    );
  });

  it('refuses malformed notification and quorum with precise paths', () => {
    const cases: [string, string[]][] = [
      ['    notification: { timeout: 60 }\n', ['policies[0].notification.channels']],
      ['    notification: { channels: [], timeout: 60 }\n', ['policies[0].notification.channels']],
      ['    notification: { channels: [email, email], timeout: 60 }\n', ['policies[0].notification.channels[1]']],
      ['    notification: { channels: ["e mail"], timeout: 60 }\n', ['policies[0].notification.channels[0]']],
      ['    notification: { channels: [email], timeout: 0 }\n', ['policies[0].notification.timeout']],
      ['    notification: { channels: [email], timeout: 1.5 }\n', ['policies[0].notification.timeout']],
      ['    notification: { channels: [email], timeout: "1800" }\n', ['policies[0].notification.timeout']],
      ['    notification: { channels: [email], timeout: 9999999 }\n', ['policies[0].notification.timeout']],
      [
        '    notification: { channels: [email], timeout: 60, escalation: { channels: [sms] } }\n',
        ['policies[0].notification.escalation.timeout'],
      ],
      ['    notification: { channels: [email], timeout: 60, retries: 3 }\n', ['policies[0].notification.retries']],
      ['    notification: [email]\n', ['policies[0].notification']],
      ['    quorum: { required: 0 }\n', ['policies[0].quorum.required']],
      ['    quorum: { required: 3, approvers: [a, b] }\n', ['policies[0].quorum.required']],
      ['    quorum: { required: 1, approvers: [a, a] }\n', ['policies[0].quorum.approvers[1]']],
      ['    quorum: { required: 1, role: agent }\n', ['policies[0].quorum.role']],
      ['    quorum: { required: 1, role: [owner, viewer] }\n', ['policies[0].quorum.role']],
      ['    quorum: { approvers: [a] }\n', ['policies[0].quorum.required']],
      ['    quorum: { required: 1, exclude_agent_owner: "yes" }\n', ['policies[0].quorum.exclude_agent_owner']],
    ];
    for (const [extra, expected] of cases) {
      assert.deepEqual(
        issues(rule(extra)).map((i) => i.path),
        expected,
        extra,
      );
    }
    assert.equal(
      issues(rule('    notification: { channels: [email], timeout: 0 }\n'))[0]!.message,
      'must be a whole number of seconds from 1 to 2592000',
    );
    assert.equal(
      issues(rule('    quorum: { required: 3, approvers: [a, b] }\n'))[0]!.message,
      'asks for 3 approvals but only 2 approvers are listed',
    );
  });
});

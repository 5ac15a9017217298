import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { evaluate, loadPolicySet } from '../src/index.ts';
import { ANVIL, ETH, facts, USDC } from './fixtures.ts';

const text = readFileSync(new URL('../examples/dev-policy.yaml', import.meta.url), 'utf8');

describe('examples/dev-policy.yaml', () => {
  const set = loadPolicySet(text);

  it('loads with two rules', () => {
    assert.deepEqual(
      set.rules.map((r) => [r.name, r.action]),
      [
        ['auto_approve_small_dev_transfers', 'auto_approve'],
        ['default_deny', 'reject'],
      ],
    );
    assert.deepEqual(set.rules[0]!.conditions['recipient_whitelist'], ANVIL.slice(1));
  });

  it('auto-approves native transfers of up to 1 ETH to anvil accounts 1–9, checksummed or lowercase', () => {
    for (const recipient of ANVIL.slice(1)) {
      for (const form of [recipient, recipient.toLowerCase() as typeof recipient]) {
        const decision = evaluate(set, facts({ recipient: form, amount: ETH }));
        assert.equal(decision.action, 'auto_approve', recipient);
        assert.equal(decision.policy, 'auto_approve_small_dev_transfers');
        assert.deepEqual(
          decision.reasons.map((r) => r.code),
          ['policy.rule_matched'],
        );
        assert.equal(decision.policySetHash, set.hash);
      }
    }
  });

  it('rejects everything else through default_deny', () => {
    const cases = [
      facts({ recipient: ANVIL[1]!, amount: ETH + 1n }), // one wei over
      facts({ recipient: ANVIL[0]! }), // account 0 is not listed
      facts({ recipient: '0x0000000000000000000000000000000000000001' }),
      facts({ type: 'contract_call' }),
      facts({ asset: USDC, decimals: 6, amount: 1n }),
    ];
    for (const input of cases) {
      const decision = evaluate(set, input);
      assert.equal(decision.action, 'reject');
      assert.equal(decision.policy, 'default_deny');
      assert.deepEqual(
        decision.reasons.map((r) => r.code),
        ['policy.rule_matched'],
      );
    }
  });
});

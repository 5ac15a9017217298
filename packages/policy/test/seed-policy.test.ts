import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { evaluate, loadPolicySet } from '../src/index.ts';
import { ALICE, BOB, facts, spend, USD, usdFacts } from './fixtures.ts';

const text = readFileSync(new URL('../examples/seed-policy.yaml', import.meta.url), 'utf8');
const ZERO = '0x0000000000000000000000000000000000000000';

describe('examples/seed-policy.yaml', () => {
  const set = loadPolicySet(text);
  const decide = (input: Parameters<typeof evaluate>[1]) => {
    const decision = evaluate(set, input);
    assert.equal(decision.policySetHash, set.hash);
    return decision;
  };

  it('loads with its five rules', () => {
    assert.deepEqual(
      set.rules.map((r) => [r.name, r.action]),
      [
        ['block_zero_address', 'reject'],
        ['block_unverified_contracts', 'reject'],
        ['auto_approve_small_transfers', 'auto_approve'],
        ['approve_large_operations', 'require_human_approval'],
        ['default_deny', 'reject'],
      ],
    );
  });

  it('a 50 USD transfer to the whitelisted address with 450 USD spent today auto-approves', () => {
    const decision = decide(usdFacts(50n, spend(450n), { recipient: ALICE }));
    assert.equal(decision.action, 'auto_approve');
    assert.equal(decision.policy, 'auto_approve_small_transfers');
    assert.equal(decision.approval, undefined);
  });

  it('with 460 USD spent it falls through, and 50 < 100, so default_deny rejects', () => {
    const decision = decide(usdFacts(50n, spend(460n), { recipient: ALICE }));
    assert.equal(decision.action, 'reject');
    assert.equal(decision.policy, 'default_deny');
  });

  it('a 150 USD transfer requires human approval on email and slack with a 1800 s timeout', () => {
    const decision = decide(usdFacts(150n, spend(0n), { recipient: ALICE }));
    assert.equal(decision.action, 'require_human_approval');
    assert.equal(decision.policy, 'approve_large_operations');
    assert.deepEqual(decision.approval, {
      notification: { channels: ['email', 'slack'], timeoutSeconds: 1800 },
      quorum: { required: 1, excludeAgentOwner: false },
    });
  });

  it('exactly 100 USD to the whitelisted address is small (max is inclusive); to anyone else it needs approval', () => {
    assert.equal(decide(usdFacts(100n, spend(0n), { recipient: ALICE })).policy, 'auto_approve_small_transfers');
    assert.equal(decide(usdFacts(100n, spend(0n), { recipient: BOB })).policy, 'approve_large_operations');
    assert.equal(decide(usdFacts(50n, spend(0n), { recipient: BOB })).policy, 'default_deny');
  });

  it('a call to an unverified contract is rejected', () => {
    const decision = decide(
      usdFacts(1n, spend(0n), { type: 'contract_call', recipient: BOB, contractVerified: false }),
    );
    assert.equal(decision.action, 'reject');
    assert.equal(decision.policy, 'block_unverified_contracts');
  });

  it('a call to a contract nobody verified-checked is rejected as unknown, never approved', () => {
    const decision = decide(usdFacts(500n, spend(0n), { type: 'contract_call', recipient: BOB }));
    assert.equal(decision.action, 'reject');
    assert.deepEqual(
      decision.reasons.map((r) => r.code),
      ['policy.condition_unknown_fact'],
    );
  });

  it('the zero address is rejected', () => {
    const decision = decide(usdFacts(1n, spend(0n), { recipient: ZERO }));
    assert.equal(decision.action, 'reject');
    assert.equal(decision.policy, 'block_zero_address');
    assert.deepEqual(
      decision.reasons.map((r) => r.code),
      ['policy.rule_matched', 'policy.recipient_blacklisted'],
    );
  });

  it('without a price, a transfer is rejected with price.unavailable / price.stale', () => {
    assert.deepEqual(
      decide(facts({ recipient: ALICE, spend: spend(0n) })).reasons.map((r) => r.code),
      ['price.unavailable'],
    );
    const stale = decide(facts({ recipient: ALICE, spend: spend(0n), priceStatus: 'stale', valueUsd: 5n * USD }));
    assert.equal(stale.action, 'reject');
    assert.deepEqual(
      stale.reasons.map((r) => r.code),
      ['price.stale'],
    );
  });
});

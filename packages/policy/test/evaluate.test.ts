import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, loadPolicySet, type PolicySet } from '../src/index.ts';
import { ALICE, BOB, CAROL, DAI, ETH, facts, factsWithout, oneRule, USDC } from './fixtures.ts';

function codes(decision: { reasons: { code: string }[] }): string[] {
  return decision.reasons.map((r) => r.code);
}

/** Action of a one-rule auto_approve set for the given facts: 'auto_approve' if it matched, else 'reject'. */
function decide(conditions: string, input = facts()): string {
  const decision = evaluate(loadPolicySet(oneRule(conditions)), input);
  return decision.action;
}

describe('evaluate: rule order and default deny', () => {
  const approveSmall = `
  - name: approve_small
    conditions: { max_value: "1" }
    action: auto_approve`;
  const rejectAlice = `
  - name: reject_alice
    conditions: { recipient_whitelist: ["${ALICE}"] }
    action: reject`;

  it('the first matching rule decides', () => {
    const set = loadPolicySet(`policies:${approveSmall}${rejectAlice}`);
    const decision = evaluate(set, facts({ recipient: ALICE, amount: ETH }));
    assert.deepEqual(decision, {
      action: 'auto_approve',
      policy: 'approve_small',
      policySetHash: set.hash,
      reasons: [{ code: 'policy.rule_matched', message: 'Rule "approve_small" matched; action auto_approve.' }],
    });
  });

  it('swapping two rules changes the decision', () => {
    const set = loadPolicySet(`policies:${rejectAlice}${approveSmall}`);
    const decision = evaluate(set, facts({ recipient: ALICE, amount: ETH }));
    assert.equal(decision.action, 'reject');
    assert.equal(decision.policy, 'reject_alice');
    assert.deepEqual(codes(decision), ['policy.rule_matched']);
  });

  it('a later rule decides when earlier ones do not match', () => {
    const set = loadPolicySet(`policies:${rejectAlice}${approveSmall}`);
    const decision = evaluate(set, facts({ recipient: BOB, amount: ETH }));
    assert.equal(decision.action, 'auto_approve');
    assert.equal(decision.policy, 'approve_small');
  });

  it('no match is the implicit final deny', () => {
    const set = loadPolicySet(`policies:${rejectAlice}${approveSmall}`);
    const decision = evaluate(set, facts({ recipient: BOB, amount: ETH + 1n }));
    assert.deepEqual(decision, {
      action: 'reject',
      policy: null,
      policySetHash: set.hash,
      reasons: [{ code: 'policy.default_deny', message: 'No rule matched; the implicit final deny applied.' }],
    });
  });

  it('an empty set denies everything', () => {
    const set = loadPolicySet('policies: []');
    assert.deepEqual(codes(evaluate(set, facts())), ['policy.default_deny']);
    assert.equal(evaluate(set, facts()).policy, null);
  });

  it('conditions: {} matches every intent, even one with no facts at all', () => {
    const set = loadPolicySet(oneRule('{}'));
    assert.equal(evaluate(set, facts()).action, 'auto_approve');
    assert.equal(evaluate(set, {}).action, 'auto_approve');
    assert.equal(evaluate(set, {}).policy, 'r');
  });

  it('all conditions of a rule must hold (AND)', () => {
    const conditions = `{ transaction_type: transfer, recipient_whitelist: ["${ALICE}"], max_value: "1" }`;
    assert.equal(decide(conditions, facts()), 'auto_approve');
    assert.equal(decide(conditions, facts({ type: 'contract_call' })), 'reject');
    assert.equal(decide(conditions, facts({ recipient: BOB })), 'reject');
    assert.equal(decide(conditions, facts({ amount: 2n * ETH })), 'reject');
  });

  it('returns a fresh decision object each call', () => {
    const set = loadPolicySet(oneRule('{}'));
    const first = evaluate(set, facts());
    first.reasons.push({ code: 'x', message: 'y' });
    assert.deepEqual(codes(evaluate(set, facts())), ['policy.rule_matched']);
  });

  it('refuses a policy set that loadPolicySet did not make', () => {
    const set = loadPolicySet(oneRule('{}'));
    const forged = { hash: set.hash, rules: set.rules } as unknown as PolicySet;
    assert.throws(() => evaluate(forged, facts()), TypeError);
    assert.throws(() => evaluate({ ...set }, facts()), TypeError);
  });
});

describe('evaluate: transaction_type', () => {
  it('a single type matches that type only', () => {
    assert.equal(decide('{ transaction_type: transfer }', facts({ type: 'transfer' })), 'auto_approve');
    assert.equal(decide('{ transaction_type: transfer }', facts({ type: 'contract_call' })), 'reject');
    assert.equal(decide('{ transaction_type: contract_call }', facts({ type: 'contract_call' })), 'auto_approve');
  });
  it('a list matches any listed type', () => {
    const conditions = '{ transaction_type: [transfer, contract_call] }';
    assert.equal(decide(conditions, facts({ type: 'transfer' })), 'auto_approve');
    assert.equal(decide(conditions, facts({ type: 'contract_call' })), 'auto_approve');
    assert.equal(decide(conditions, facts({ type: 'approve' })), 'reject');
  });
  it('future types are accepted in the language', () => {
    const conditions = '{ transaction_type: [approve, swap, typed_data, message, x402_payment] }';
    assert.equal(decide(conditions, facts({ type: 'x402_payment' })), 'auto_approve');
    assert.equal(decide(conditions, facts({ type: 'transfer' })), 'reject');
  });
});

describe('evaluate: asset', () => {
  it('native matches native only', () => {
    assert.equal(decide('{ asset: native }', facts({ asset: 'native' })), 'auto_approve');
    assert.equal(decide('{ asset: native }', facts({ asset: USDC, decimals: 6 })), 'reject');
  });
  it('a token address matches that token, checksummed or lowercase, and not native', () => {
    const conditions = `{ asset: "${USDC}" }`;
    assert.equal(decide(conditions, facts({ asset: USDC })), 'auto_approve');
    assert.equal(decide(conditions, facts({ asset: USDC.toLowerCase() as typeof USDC })), 'auto_approve');
    assert.equal(decide(conditions, facts({ asset: DAI })), 'reject');
    assert.equal(decide(conditions, facts({ asset: 'native' })), 'reject');
  });
  it('a lowercase token address in the policy matches the checksummed fact', () => {
    assert.equal(decide(`{ asset: "${USDC.toLowerCase()}" }`, facts({ asset: USDC })), 'auto_approve');
  });
  it('a list matches any listed asset', () => {
    const conditions = `{ asset: [native, "${USDC}"] }`;
    assert.equal(decide(conditions, facts({ asset: 'native' })), 'auto_approve');
    assert.equal(decide(conditions, facts({ asset: USDC })), 'auto_approve');
    assert.equal(decide(conditions, facts({ asset: DAI })), 'reject');
  });
});

describe('evaluate: recipient_whitelist', () => {
  const conditions = `{ recipient_whitelist: ["${ALICE}", "${BOB.toLowerCase()}"] }`;
  it('matches a listed recipient, checksummed or lowercase, whatever case the policy used', () => {
    assert.equal(decide(conditions, facts({ recipient: ALICE })), 'auto_approve');
    assert.equal(decide(conditions, facts({ recipient: ALICE.toLowerCase() as typeof ALICE })), 'auto_approve');
    assert.equal(decide(conditions, facts({ recipient: BOB })), 'auto_approve');
    assert.equal(decide(conditions, facts({ recipient: BOB.toLowerCase() as typeof BOB })), 'auto_approve');
  });
  it('does not match an unlisted recipient', () => {
    assert.equal(decide(conditions, facts({ recipient: CAROL })), 'reject');
  });
  it("applies to a contract call's `to`", () => {
    assert.equal(decide(conditions, facts({ type: 'contract_call', recipient: ALICE })), 'auto_approve');
    assert.equal(decide(conditions, facts({ type: 'contract_call', recipient: CAROL })), 'reject');
  });
});

describe('evaluate: recipient_blacklist', () => {
  const set = loadPolicySet(`
policies:
  - name: block_bad
    conditions: { recipient_blacklist: ["${BOB}", "${CAROL.toLowerCase()}"] }
    action: reject
  - name: allow_rest
    conditions: {}
    action: auto_approve
`);
  it('rejects a listed recipient with policy.recipient_blacklisted', () => {
    for (const recipient of [BOB, BOB.toLowerCase(), CAROL, CAROL.toLowerCase()] as (typeof BOB)[]) {
      const decision = evaluate(set, facts({ recipient }));
      assert.deepEqual(decision, {
        action: 'reject',
        policy: 'block_bad',
        policySetHash: set.hash,
        reasons: [
          { code: 'policy.rule_matched', message: 'Rule "block_bad" matched; action reject.' },
          {
            code: 'policy.recipient_blacklisted',
            message: 'The recipient is on the recipient_blacklist of rule "block_bad".',
          },
        ],
      });
    }
  });
  it('does not match an unlisted recipient', () => {
    const decision = evaluate(set, facts({ recipient: ALICE }));
    assert.equal(decision.action, 'auto_approve');
    assert.equal(decision.policy, 'allow_rest');
    assert.deepEqual(codes(decision), ['policy.rule_matched']);
  });
});

describe('evaluate: max_value', () => {
  it('18 decimals: equal passes, one wei more fails', () => {
    assert.equal(decide('{ max_value: "1" }', facts({ amount: ETH })), 'auto_approve');
    assert.equal(decide('{ max_value: "1" }', facts({ amount: ETH + 1n })), 'reject');
    assert.equal(decide('{ max_value: "1.5" }', facts({ amount: (3n * ETH) / 2n })), 'auto_approve');
    assert.equal(decide('{ max_value: "1.5" }', facts({ amount: (3n * ETH) / 2n + 1n })), 'reject');
    assert.equal(decide('{ max_value: "0" }', facts({ amount: 0n })), 'auto_approve');
    assert.equal(decide('{ max_value: "0" }', facts({ amount: 1n })), 'reject');
  });
  it('6 decimals: equal passes, one base unit more fails', () => {
    const usdc = (amount: bigint) => facts({ asset: USDC, decimals: 6, amount });
    assert.equal(decide('{ max_value: "100" }', usdc(100_000_000n)), 'auto_approve');
    assert.equal(decide('{ max_value: "100" }', usdc(100_000_001n)), 'reject');
    assert.equal(decide('{ max_value: "0.000001" }', usdc(1n)), 'auto_approve');
    assert.equal(decide('{ max_value: "0.000001" }', usdc(2n)), 'reject');
  });
  it('the same limit means different base units for different decimals', () => {
    assert.equal(decide('{ max_value: "1" }', facts({ decimals: 6, amount: 1_000_000n })), 'auto_approve');
    assert.equal(decide('{ max_value: "1" }', facts({ decimals: 6, amount: 1_000_001n })), 'reject');
    assert.equal(decide('{ max_value: "1" }', facts({ decimals: 0, amount: 1n })), 'auto_approve');
    assert.equal(decide('{ max_value: "1" }', facts({ decimals: 0, amount: 2n })), 'reject');
  });
  it('more fractional digits than the asset has: compared exactly, never rounded up', () => {
    // 1.0000009 with 6 decimals: 1.000000 passes, 1.000001 exceeds the limit and fails.
    assert.equal(decide('{ max_value: "1.0000009" }', facts({ decimals: 6, amount: 1_000_000n })), 'auto_approve');
    assert.equal(decide('{ max_value: "1.0000009" }', facts({ decimals: 6, amount: 1_000_001n })), 'reject');
    // 0.5 with 0 decimals: 0 passes, 1 fails.
    assert.equal(decide('{ max_value: "0.5" }', facts({ decimals: 0, amount: 0n })), 'auto_approve');
    assert.equal(decide('{ max_value: "0.5" }', facts({ decimals: 0, amount: 1n })), 'reject');
    // Trailing zeros beyond the decimals change nothing: 1.0000000 with 6 decimals is exactly 1.
    assert.equal(decide('{ max_value: "1.0000000" }', facts({ decimals: 6, amount: 1_000_000n })), 'auto_approve');
    assert.equal(decide('{ max_value: "1.0000000" }', facts({ decimals: 6, amount: 1_000_001n })), 'reject');
  });
  it('a plain YAML number works like the decimal string', () => {
    assert.equal(decide('{ max_value: 1 }', facts({ amount: ETH })), 'auto_approve');
    assert.equal(decide('{ max_value: 1 }', facts({ amount: ETH + 1n })), 'reject');
    assert.equal(decide('{ max_value: 0.25 }', facts({ amount: ETH / 4n })), 'auto_approve');
    assert.equal(decide('{ max_value: 0.25 }', facts({ amount: ETH / 4n + 1n })), 'reject');
  });
  it('the largest 256-bit limit still compares exactly', () => {
    const max = ((1n << 256n) - 1n).toString();
    assert.equal(decide(`{ max_value: "${max}" }`, facts({ decimals: 0, amount: (1n << 256n) - 1n })), 'auto_approve');
    assert.equal(decide(`{ max_value: "${max}" }`, facts({ decimals: 0, amount: 1n << 256n })), 'reject');
  });
});

describe('evaluate: unknown facts fail closed', () => {
  const unknownCases: [string, string, (keyof ReturnType<typeof facts>)[], string][] = [
    ['transaction_type', '{ transaction_type: transfer }', ['type'], 'type fact'],
    ['asset', '{ asset: native }', ['asset'], 'asset fact'],
    ['recipient_whitelist', `{ recipient_whitelist: ["${ALICE}"] }`, ['recipient'], 'recipient fact'],
    ['recipient_blacklist', `{ recipient_blacklist: ["${ALICE}"] }`, ['recipient'], 'recipient fact'],
    ['max_value', '{ max_value: "1" }', ['amount'], 'amount and decimals facts'],
    ['max_value', '{ max_value: "1" }', ['decimals'], 'amount and decimals facts'],
  ];
  for (const [key, conditions, missing, needs] of unknownCases) {
    it(`${key} without ${missing.join(', ')} → reject with policy.condition_unknown_fact`, () => {
      const action = key === 'recipient_blacklist' ? 'reject' : 'auto_approve';
      const set = loadPolicySet(
        `${oneRule(conditions, action)}  - name: allow_all\n    conditions: {}\n    action: auto_approve\n`,
      );
      const decision = evaluate(set, factsWithout(...missing));
      assert.deepEqual(decision, {
        action: 'reject',
        policy: 'r',
        policySetHash: set.hash,
        reasons: [
          {
            code: 'policy.condition_unknown_fact',
            message: `Rule "r" could not be evaluated: condition ${key} needs the ${needs}, which the gateway does not have for this intent; failing closed.`,
          },
        ],
      });
    });
  }

  it('does not fall through to a later rule that would approve', () => {
    const set = loadPolicySet(`
policies:
  - name: block_bad
    conditions: { recipient_blacklist: ["${BOB}"] }
    action: reject
  - name: allow_all
    conditions: {}
    action: auto_approve
`);
    const decision = evaluate(set, factsWithout('recipient'));
    assert.equal(decision.action, 'reject');
    assert.equal(decision.policy, 'block_bad');
    assert.deepEqual(codes(decision), ['policy.condition_unknown_fact']);
  });

  it('malformed facts count as unknown: negative amount, fractional or huge decimals, non-string recipient', () => {
    const set = loadPolicySet(oneRule(`{ max_value: "1", recipient_whitelist: ["${ALICE}"] }`));
    for (const bad of [
      { ...facts(), amount: -1n },
      { ...facts(), decimals: 1.5 },
      { ...facts(), decimals: 256 },
      { ...facts(), amount: 1 as unknown as bigint },
      { ...facts(), recipient: 42 as unknown as typeof ALICE },
    ]) {
      assert.deepEqual(codes(evaluate(set, bad)), ['policy.condition_unknown_fact']);
      assert.equal(evaluate(set, bad).action, 'reject');
    }
  });

  it('names the first unknown condition in the rule', () => {
    const set = loadPolicySet(oneRule(`{ asset: native, recipient_whitelist: ["${ALICE}"], max_value: "1" }`));
    const decision = evaluate(set, factsWithout('recipient', 'amount'));
    assert.match(decision.reasons[0]!.message, /condition recipient_whitelist needs the recipient fact/);
  });

  it('a condition that does not hold decides the rule even when another is unknown (three-valued AND)', () => {
    // transaction_type is false whatever the recipient is, so the rule cannot match and the next rule decides.
    const set = loadPolicySet(`
policies:
  - name: calls_to_alice
    conditions: { recipient_whitelist: ["${ALICE}"], transaction_type: contract_call }
    action: auto_approve
  - name: default_deny
    conditions: {}
    action: reject
`);
    const withoutRecipient = { ...factsWithout('recipient'), type: 'transfer' as const };
    const decision = evaluate(set, withoutRecipient);
    assert.equal(decision.policy, 'default_deny');
    assert.deepEqual(codes(decision), ['policy.rule_matched']);
    // and in the other order, the same answer
    const swapped = loadPolicySet(`
policies:
  - name: calls_to_alice
    conditions: { transaction_type: contract_call, recipient_whitelist: ["${ALICE}"] }
    action: auto_approve
  - name: default_deny
    conditions: {}
    action: reject
`);
    assert.equal(evaluate(swapped, withoutRecipient).policy, 'default_deny');
  });
});

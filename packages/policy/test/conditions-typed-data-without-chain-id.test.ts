// typed_data_without_chain_id: the only way a policy allows typed data whose domain has no chainId (the gateway
// refuses any other, since its signature is valid on every chain).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, loadPolicySet } from '../src/index.ts';
import { outcome } from './decide.ts';
import { ALICE, BOB, USDC, facts, oneRule } from './fixtures.ts';

const typed = (domain: { chainId?: number; verifyingContract?: `0x${string}` }) =>
  facts({ type: 'typed_data', typedData: { primaryType: 'Permit', domain } });

describe('typed_data_without_chain_id', () => {
  const conditions = `{ transaction_type: typed_data, typed_data_without_chain_id: ["${USDC.toLowerCase()}", "${ALICE}"] }`;

  it('holds for a listed contract whose domain has no chainId, whatever the case', () => {
    assert.equal(outcome(conditions, typed({ verifyingContract: USDC })), 'holds');
    assert.equal(outcome(conditions, typed({ verifyingContract: ALICE.toLowerCase() as `0x${string}` })), 'holds');
    assert.equal(outcome(conditions, typed({ verifyingContract: BOB })), 'fails');
  });

  it('does not match a domain that has a chainId, or names no contract', () => {
    assert.equal(outcome(conditions, typed({ chainId: 1, verifyingContract: USDC })), 'fails');
    assert.equal(outcome(conditions, typed({})), 'fails');
  });

  it('is unknown without typed data', () => {
    assert.equal(
      outcome(`{ typed_data_without_chain_id: ["${USDC}"] }`, facts({ type: 'transfer' })),
      'policy.condition_unknown_fact',
    );
  });

  it('a matching rule adds policy.typed_data_without_chain_id_allowed after policy.rule_matched', () => {
    const decision = evaluate(loadPolicySet(oneRule(conditions, 'auto_approve')), typed({ verifyingContract: USDC }));
    assert.equal(decision.action, 'auto_approve');
    assert.deepEqual(
      decision.reasons.map((r) => r.code),
      ['policy.rule_matched', 'policy.typed_data_without_chain_id_allowed'],
    );
  });

  it('refuses bad addresses, an empty list and a reject rule at load', () => {
    assert.throws(() => loadPolicySet(oneRule('{ typed_data_without_chain_id: ["0x12"] }', 'auto_approve')));
    assert.throws(() => loadPolicySet(oneRule('{ typed_data_without_chain_id: [] }', 'auto_approve')));
    assert.throws(
      () => loadPolicySet(oneRule(`{ typed_data_without_chain_id: ["${USDC}"] }`, 'reject')),
      /auto_approve/,
    );
  });
});

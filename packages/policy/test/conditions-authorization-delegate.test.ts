// authorization_delegate: the only way a policy allows an EIP-7702 authorisation (the gateway refuses any other).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, loadPolicySet, TRANSACTION_TYPES } from '../src/index.ts';
import { assertListedAddressesHold, outcome } from './decide.ts';
import { ALICE, BOB, CAROL, facts, oneRule } from './fixtures.ts';

const authorization = (delegate?: string) =>
  facts({
    type: 'authorization',
    ...(delegate === undefined ? {} : { authorizationDelegate: delegate as typeof ALICE }),
  });

describe('authorization_delegate', () => {
  const conditions = `{ transaction_type: authorization, authorization_delegate: ["${ALICE}", "${BOB.toLowerCase()}"] }`;

  it('holds for a listed delegate, whatever the case', () => {
    assertListedAddressesHold(conditions, authorization);
  });

  it('is unknown without the fact, and does not match other kinds when paired with transaction_type', () => {
    assert.equal(outcome(`{ authorization_delegate: ["${ALICE}"] }`, authorization()), 'policy.condition_unknown_fact');
    assert.equal(outcome(conditions, facts({ type: 'transfer' })), 'fails');
  });

  it('a matching rule adds policy.authorization_delegate_allowed after policy.rule_matched', () => {
    const set = loadPolicySet(oneRule(conditions, 'auto_approve'));
    const decision = evaluate(set, authorization(ALICE));
    assert.equal(decision.action, 'auto_approve');
    assert.deepEqual(
      decision.reasons.map((r) => r.code),
      ['policy.rule_matched', 'policy.authorization_delegate_allowed'],
    );
  });

  it('resolves @lists and refuses bad addresses at load', () => {
    const set = loadPolicySet(
      `address_lists:\n  delegates: ["${CAROL}"]\n${oneRule('{ authorization_delegate: ["@delegates"] }', 'auto_approve')}`,
    );
    assert.equal(evaluate(set, authorization(CAROL)).action, 'auto_approve');
    assert.throws(
      () => loadPolicySet(oneRule('{ authorization_delegate: ["0x1234"] }', 'auto_approve')),
      /authorization_delegate/,
    );
    assert.throws(
      () => loadPolicySet(oneRule('{ authorization_delegate: [] }', 'auto_approve')),
      /authorization_delegate/,
    );
  });

  it('authorization is a transaction type the language knows', () => {
    assert.ok(TRANSACTION_TYPES.includes('authorization'));
    assert.equal(outcome('{ transaction_type: authorization }', authorization(ALICE)), 'holds');
  });
});

describe('authorization_delegate actions', () => {
  it('allows only: a rule using it may not reject (refuse a delegate with recipient_blacklist)', () => {
    assert.throws(
      () => loadPolicySet(oneRule(`{ authorization_delegate: ["${ALICE}"] }`, 'reject')),
      /must be auto_approve or require_human_approval in a rule using authorization_delegate/,
    );
  });
});

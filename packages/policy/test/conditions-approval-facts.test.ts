import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, loadPolicySet } from '../src/index.ts';
import { assertListedAddressesHold, outcome } from './decide.ts';
import { ALICE, BOB, CAROL, facts, oneRule, USDC } from './fixtures.ts';

const UNKNOWN = 'policy.condition_unknown_fact';
const approve = (spender?: string, unlimited?: boolean) =>
  facts({
    type: 'approve',
    ...(spender === undefined ? {} : { spender: spender as typeof ALICE }),
    ...(unlimited === undefined ? {} : { unlimitedApproval: unlimited }),
  });

describe('spender_whitelist', () => {
  const conditions = `{ spender_whitelist: ["${ALICE}", "${BOB.toLowerCase()}"] }`;
  it('holds for a listed spender, whatever the case', () => {
    assertListedAddressesHold(conditions, approve);
  });
  it('unknown without a spender', () => {
    assert.equal(outcome(conditions, approve()), UNKNOWN);
  });
});

describe('spender_blacklist', () => {
  it('rejects a listed spender with policy.spender_blacklisted', () => {
    const set = loadPolicySet(
      `${oneRule(`{ spender_blacklist: ["${CAROL}"] }`, 'reject')}  - name: rest\n    conditions: {}\n    action: auto_approve\n`,
    );
    const decision = evaluate(set, approve(CAROL));
    assert.equal(decision.action, 'reject');
    assert.deepEqual(
      decision.reasons.map((r) => r.code),
      ['policy.rule_matched', 'policy.spender_blacklisted'],
    );
    assert.equal(decision.reasons[1]!.message, 'The spender is on the spender_blacklist of rule "r".');
    assert.equal(evaluate(set, approve(ALICE)).policy, 'rest');
    assert.equal(outcome(`{ spender_blacklist: ["${CAROL}"] }`, approve(), 'reject'), UNKNOWN);
  });
  it('may only reject', () => {
    assert.throws(
      () => loadPolicySet(oneRule(`{ spender_blacklist: ["${CAROL}"] }`, 'auto_approve')),
      /must be reject in a rule using spender_blacklist/,
    );
    assert.throws(() => loadPolicySet(oneRule(`{ spender_blacklist: ["${CAROL}"] }`, 'require_human_approval')));
  });
});

describe('unlimited_approval', () => {
  it('holds when the approval is (not) unlimited as written', () => {
    assert.equal(outcome('{ unlimited_approval: true }', approve(ALICE, true), 'reject'), 'holds');
    assert.equal(outcome('{ unlimited_approval: true }', approve(ALICE, false), 'reject'), 'fails');
    assert.equal(outcome('{ unlimited_approval: false }', approve(ALICE, false)), 'holds');
  });
  it('unknown without the fact', () => {
    assert.equal(outcome('{ unlimited_approval: false }', approve(ALICE)), UNKNOWN);
  });
});

describe('typed_data_primary_type', () => {
  const typed = (primaryType: string) => facts({ type: 'typed_data', typedData: { primaryType, domain: {} } });
  it('a type name or a list, case-sensitive', () => {
    assert.equal(outcome('{ typed_data_primary_type: Permit }', typed('Permit')), 'holds');
    assert.equal(outcome('{ typed_data_primary_type: Permit }', typed('permit')), 'fails');
    assert.equal(outcome('{ typed_data_primary_type: [Permit, Order] }', typed('Order')), 'holds');
  });
  it('unknown without typed data', () => {
    assert.equal(outcome('{ typed_data_primary_type: Permit }', facts()), UNKNOWN);
  });
});

describe('typed_data_domain', () => {
  const domain = { name: 'USD Coin', version: '2', chainId: 1, verifyingContract: USDC };
  const typed = (d: object) => facts({ type: 'typed_data', typedData: { primaryType: 'Permit', domain: d } });
  const all = `{ typed_data_domain: { name: "USD Coin", version: "2", chainId: 1, verifyingContract: "${USDC.toLowerCase()}" } }`;
  it('every given field must equal the domain (the contract ignoring case)', () => {
    assert.equal(outcome(all, typed(domain)), 'holds');
    assert.equal(outcome('{ typed_data_domain: { chainId: 1 } }', typed(domain)), 'holds');
    assert.equal(outcome(all, typed({ ...domain, chainId: 8453 })), 'fails');
    assert.equal(outcome(all, typed({ ...domain, name: 'USD Coin ' })), 'fails');
    assert.equal(outcome(all, typed({ ...domain, verifyingContract: ALICE })), 'fails');
  });
  it('a field the domain lacks does not match', () => {
    assert.equal(outcome('{ typed_data_domain: { version: "2" } }', typed({ name: 'USD Coin' })), 'fails');
  });
  it('unknown without typed data', () => {
    assert.equal(outcome(all, facts()), UNKNOWN);
  });
  it('refuses an empty mapping, unknown fields and bad contracts', () => {
    assert.throws(() => loadPolicySet(oneRule('{ typed_data_domain: {} }')));
    assert.throws(() => loadPolicySet(oneRule('{ typed_data_domain: { salt: "0x00" } }')));
    assert.throws(
      () => loadPolicySet(oneRule('{ typed_data_domain: { verifyingContract: "0x12" } }')),
      /typed_data_domain\.verifyingContract/,
    );
  });
});

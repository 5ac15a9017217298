// Security regressions: hostile or inconsistent facts must never approve. Each test sends the exact input and asserts
// the exact decision and reason code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, loadPolicySet } from '../src/index.ts';
import { ALICE, facts, spend, USD } from './fixtures.ts';

const small = loadPolicySet(`
policies:
  - name: small
    conditions: { max_value_usd: 100, daily_limit_usd: 500, daily_count_limit: 10 }
    action: auto_approve
  - name: everything_else
    conditions: {}
    action: auto_approve
`);
const code = (input: Parameters<typeof evaluate>[1]) => {
  const decision = evaluate(small, input);
  return [decision.action, decision.policy, decision.reasons.map((r) => r.code).join(',')];
};

describe('fail closed on prices and spend', () => {
  it('a USD value with priceStatus "stale" is not trusted: reject with price.stale', () => {
    assert.deepEqual(code(facts({ valueUsd: 1n * USD, priceStatus: 'stale', spend: spend(0n) })), [
      'reject',
      'small',
      'price.stale',
    ]);
  });
  it('a USD value with priceStatus "unknown" is not trusted: reject with price.unavailable', () => {
    assert.deepEqual(code(facts({ valueUsd: 1n * USD, priceStatus: 'unknown', spend: spend(0n) })), [
      'reject',
      'small',
      'price.unavailable',
    ]);
  });
  it('a negative USD value is no value: reject with price.unavailable', () => {
    assert.deepEqual(code(facts({ valueUsd: -1n, priceStatus: 'ok', spend: spend(0n) })), [
      'reject',
      'small',
      'price.unavailable',
    ]);
  });
  it('a USD value given as a number, not a bigint, is no value', () => {
    assert.deepEqual(code(facts({ valueUsd: 1_000_000 as unknown as bigint, spend: spend(0n) })), [
      'reject',
      'small',
      'price.unavailable',
    ]);
  });
  it('a negative daily spend cannot buy headroom: reject with policy.condition_unknown_fact', () => {
    const input = facts({
      valueUsd: 50n * USD,
      priceStatus: 'ok',
      spend: { dayUsd: -1000n * USD, hourUsd: 0n, dayCount: 0, hourCount: 0 },
    });
    assert.deepEqual(code(input), ['reject', 'small', 'policy.condition_unknown_fact']);
  });
  it('a negative or fractional intent count cannot buy headroom', () => {
    for (const dayCount of [-5, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const input = facts({ valueUsd: 1n * USD, priceStatus: 'ok', spend: { ...spend(0n), dayCount } });
      assert.deepEqual(code(input), ['reject', 'small', 'policy.condition_unknown_fact'], String(dayCount));
    }
  });
  it('spend as a string is not spend', () => {
    const input = facts({ valueUsd: 1n * USD, priceStatus: 'ok', spend: '0' as unknown as ReturnType<typeof spend> });
    assert.deepEqual(code(input), ['reject', 'small', 'policy.condition_unknown_fact']);
  });
});

describe('fail closed on approvals and typed data', () => {
  const set = loadPolicySet(`
policies:
  - name: block_unlimited
    conditions: { unlimited_approval: true }
    action: reject
  - name: rest
    conditions: {}
    action: auto_approve
`);
  it('an approval whose unlimited flag is missing is rejected as unknown, not waved through', () => {
    const decision = evaluate(set, facts({ type: 'approve', spender: ALICE }));
    assert.deepEqual(
      [decision.action, decision.policy, decision.reasons[0]!.code],
      ['reject', 'block_unlimited', 'policy.condition_unknown_fact'],
    );
  });
  it('a truthy non-boolean unlimited flag is unknown, not false', () => {
    const decision = evaluate(set, facts({ type: 'approve', unlimitedApproval: 'false' as unknown as boolean }));
    assert.equal(decision.reasons[0]!.code, 'policy.condition_unknown_fact');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicySet, PolicyLoadError } from '../src/index.ts';
import { decideRule, outcome } from './decide.ts';
import { facts, oneRule, spend, USD, usdFacts } from './fixtures.ts';

const UNKNOWN = 'policy.condition_unknown_fact';

function loadPaths(conditions: string): string[] {
  try {
    loadPolicySet(oneRule(conditions));
  } catch (error) {
    assert.ok(error instanceof PolicyLoadError);
    return error.issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

describe('max_value_usd', () => {
  it('holds at and below the limit, exactly in micro-USD', () => {
    assert.equal(outcome('{ max_value_usd: 100 }', usdFacts(100n)), 'holds');
    assert.equal(outcome('{ max_value_usd: 100 }', facts({ valueUsd: 100n * USD + 1n })), 'fails');
    assert.equal(outcome('{ max_value_usd: "99.999999" }', facts({ valueUsd: 99_999_999n })), 'holds');
    assert.equal(outcome('{ max_value_usd: "99.999999" }', facts({ valueUsd: 100n * USD })), 'fails');
    assert.equal(outcome('{ max_value_usd: 0.5 }', facts({ valueUsd: 500_000n })), 'holds');
    assert.equal(outcome('{ max_value_usd: 0 }', facts({ valueUsd: 0n })), 'holds');
  });
  it('unknown without a USD value: price.unavailable, or price.stale from priceStatus', () => {
    assert.equal(outcome('{ max_value_usd: 100 }', facts()), 'price.unavailable');
    assert.equal(outcome('{ max_value_usd: 100 }', facts({ priceStatus: 'unknown' })), 'price.unavailable');
    assert.equal(outcome('{ max_value_usd: 100 }', facts({ priceStatus: 'stale' })), 'price.stale');
  });
  it('the unknown decision names the rule and the condition', () => {
    const decision = decideRule('{ max_value_usd: 100 }', facts({ priceStatus: 'stale' }));
    assert.deepEqual(decision.reasons, [
      {
        code: 'price.stale',
        message: `Rule "r" could not be evaluated: condition max_value_usd needs the intent's USD value and the asset's price is stale; failing closed.`,
      },
    ]);
    assert.equal(decision.action, 'reject');
    assert.equal(decision.policy, 'r');
  });
  it('refuses limits that are not exact micro-USD amounts', () => {
    assert.deepEqual(loadPaths('{ max_value_usd: "1.0000001" }'), [
      'policies[0].conditions.max_value_usd: has more than 6 fractional digits (USD amounts are compared in micro-USD)',
    ]);
    for (const bad of ['"-1"', '-1', '"1e3"', '1e3', '"abc"', 'true', '[1]', '"01"']) {
      assert.equal(loadPaths(`{ max_value_usd: ${bad} }`).length, 1, bad);
    }
  });
});

describe('min_value_usd', () => {
  it('holds at and above the limit', () => {
    assert.equal(outcome('{ min_value_usd: 100 }', usdFacts(100n)), 'holds');
    assert.equal(outcome('{ min_value_usd: 100 }', usdFacts(150n)), 'holds');
    assert.equal(outcome('{ min_value_usd: 100 }', facts({ valueUsd: 100n * USD - 1n })), 'fails');
  });
  it('unknown without a USD value', () => {
    assert.equal(outcome('{ min_value_usd: 100 }', facts()), 'price.unavailable');
    assert.equal(
      outcome('{ min_value_usd: 100 }', facts({ valueUsd: 150n * USD, priceStatus: 'stale' })),
      'price.stale',
    );
  });
});

describe('daily_limit_usd / hourly_limit_usd', () => {
  it('holds when spend before the intent plus its value stays within the limit', () => {
    assert.equal(outcome('{ daily_limit_usd: 500 }', usdFacts(50n, spend(450n))), 'holds');
    assert.equal(outcome('{ daily_limit_usd: 500 }', usdFacts(50n, spend(460n))), 'fails');
    assert.equal(outcome('{ daily_limit_usd: 500 }', facts({ valueUsd: 50n * USD + 1n, spend: spend(450n) })), 'fails');
    assert.equal(outcome('{ hourly_limit_usd: 100 }', usdFacts(40n, spend(1000n, 60n))), 'holds');
    assert.equal(outcome('{ hourly_limit_usd: 100 }', usdFacts(41n, spend(0n, 60n))), 'fails');
  });
  it('unknown without a USD value (price reason) or without spend (generic reason)', () => {
    assert.equal(outcome('{ daily_limit_usd: 500 }', facts({ spend: spend(0n) })), 'price.unavailable');
    assert.equal(outcome('{ daily_limit_usd: 500 }', facts({ spend: spend(0n), priceStatus: 'stale' })), 'price.stale');
    assert.equal(outcome('{ daily_limit_usd: 500 }', facts({ valueUsd: USD, priceStatus: 'ok' })), UNKNOWN);
    assert.equal(
      outcome('{ hourly_limit_usd: 500 }', facts({ valueUsd: USD, spend: { ...spend(0n), hourUsd: -1n } })),
      UNKNOWN,
    );
  });
});

describe('daily_count_limit / hourly_count_limit', () => {
  it('holds when the count before the intent plus one is within the limit', () => {
    assert.equal(outcome('{ daily_count_limit: 10 }', facts({ spend: spend(0n, 0n, 9, 0) })), 'holds');
    assert.equal(outcome('{ daily_count_limit: 10 }', facts({ spend: spend(0n, 0n, 10, 0) })), 'fails');
    assert.equal(outcome('{ hourly_count_limit: 2 }', facts({ spend: spend(0n, 0n, 50, 1) })), 'holds');
    assert.equal(outcome('{ hourly_count_limit: 2 }', facts({ spend: spend(0n, 0n, 0, 2) })), 'fails');
    assert.equal(outcome('{ hourly_count_limit: 0 }', facts({ spend: spend(0n) })), 'fails');
  });
  it('unknown without spend, or with a count that is not a whole number', () => {
    assert.equal(outcome('{ daily_count_limit: 10 }', facts()), UNKNOWN);
    assert.equal(outcome('{ daily_count_limit: 10 }', facts({ spend: { ...spend(0n), dayCount: 1.5 } })), UNKNOWN);
    assert.equal(outcome('{ hourly_count_limit: 10 }', facts({ spend: { ...spend(0n), hourCount: -1 } })), UNKNOWN);
  });
  it('refuses limits that are not whole numbers', () => {
    for (const bad of ['1.5', '-1', '"10"', 'true'])
      assert.equal(loadPaths(`{ daily_count_limit: ${bad} }`).length, 1, bad);
  });
});

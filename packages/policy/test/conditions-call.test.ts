import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicySet, PolicyLoadError, selectorOfSignature } from '../src/index.ts';
import { outcome } from './decide.ts';
import { ALICE, BOB, CAROL, facts, oneRule } from './fixtures.ts';

const UNKNOWN = 'policy.condition_unknown_fact';
const TRANSFER = '0xa9059cbb';
const APPROVE = '0x095ea7b3';

function issues(text: string): { path: string; message: string }[] {
  try {
    loadPolicySet(text);
  } catch (error) {
    assert.ok(error instanceof PolicyLoadError);
    return error.issues.map((i) => ({ path: i.path, message: i.message }));
  }
  return [];
}

describe('contract_verified', () => {
  const call = (verified?: boolean) =>
    facts({ type: 'contract_call', ...(verified === undefined ? {} : { contractVerified: verified }) });
  it('holds when the registry answer equals the value', () => {
    assert.equal(outcome('{ contract_verified: false }', call(false), 'reject'), 'holds');
    assert.equal(outcome('{ contract_verified: false }', call(true), 'reject'), 'fails');
    assert.equal(outcome('{ contract_verified: true }', call(true)), 'holds');
    assert.equal(outcome('{ contract_verified: true }', call(false)), 'fails');
  });
  it('unknown without the fact', () => {
    assert.equal(outcome('{ contract_verified: true }', call()), UNKNOWN);
  });
  it('refuses a value that is not a boolean', () => {
    assert.equal(issues(oneRule('{ contract_verified: "yes" }')).length, 1);
  });
});

describe('function_selector', () => {
  it('a selector, matched whatever the case of either side', () => {
    assert.equal(outcome(`{ function_selector: "${TRANSFER}" }`, facts({ selector: TRANSFER })), 'holds');
    assert.equal(outcome('{ function_selector: "0xA9059CBB" }', facts({ selector: TRANSFER })), 'holds');
    assert.equal(outcome(`{ function_selector: "${TRANSFER}" }`, facts({ selector: '0xA9059CBB' })), 'holds');
    assert.equal(outcome(`{ function_selector: "${TRANSFER}" }`, facts({ selector: APPROVE })), 'fails');
  });
  it('a signature is hashed at load; names, "function" and "returns" are ignored', () => {
    assert.equal(selectorOfSignature('transfer(address,uint256)'), TRANSFER);
    assert.equal(outcome('{ function_selector: "transfer(address,uint256)" }', facts({ selector: TRANSFER })), 'holds');
    assert.equal(
      outcome(
        '{ function_selector: "function transfer(address to, uint256 amount) returns (bool)" }',
        facts({ selector: TRANSFER }),
      ),
      'holds',
    );
    assert.equal(
      outcome('{ function_selector: ["approve(address,uint256)", "0x23b872dd"] }', facts({ selector: APPROVE })),
      'holds',
    );
    assert.equal(
      outcome('{ function_selector: ["approve(address,uint256)"] }', facts({ selector: TRANSFER })),
      'fails',
    );
  });
  it('unknown for an intent without a selector (a plain transfer)', () => {
    assert.equal(outcome(`{ function_selector: "${TRANSFER}" }`, facts()), UNKNOWN);
  });
  it('refuses a signature with a misspelt type instead of hashing the typo', () => {
    assert.deepEqual(
      issues(oneRule('{ function_selector: ["transfer(adress,uint256)", "0x1234"] }')).map((i) => i.path),
      ['policies[0].conditions.function_selector[0]', 'policies[0].conditions.function_selector[1]'],
    );
    assert.equal(issues(oneRule('{ function_selector: "transfer" }')).length, 1);
    assert.equal(issues(oneRule('{ function_selector: "event Transfer(address,address,uint256)" }')).length, 1);
  });
});

describe('function_args', () => {
  const call = (args: Record<string, unknown>) =>
    facts({ type: 'contract_call', selector: TRANSFER, call: { functionName: 'transfer', args } });

  it('eq: integers as bigints, addresses ignoring case, booleans and strings exactly', () => {
    assert.equal(outcome('{ function_args: { amount: { eq: "1000" } } }', call({ amount: 1000n })), 'holds');
    assert.equal(outcome('{ function_args: { amount: { eq: 1000 } } }', call({ amount: 1001n })), 'fails');
    assert.equal(outcome(`{ function_args: { to: { eq: "${ALICE.toLowerCase()}" } } }`, call({ to: ALICE })), 'holds');
    assert.equal(outcome(`{ function_args: { to: { eq: "${ALICE}" } } }`, call({ to: BOB })), 'fails');
    assert.equal(outcome('{ function_args: { flag: { eq: true } } }', call({ flag: true })), 'holds');
    assert.equal(outcome('{ function_args: { flag: { eq: true } } }', call({ flag: false })), 'fails');
    assert.equal(outcome('{ function_args: { memo: { eq: "hi" } } }', call({ memo: 'hi' })), 'holds');
    assert.equal(outcome('{ function_args: { memo: { eq: "hi" } } }', call({ memo: 'Hi' })), 'fails');
    assert.equal(outcome('{ function_args: { data: { eq: "0xABCD" } } }', call({ data: '0xabcd' })), 'holds');
  });
  it('in: any listed value', () => {
    const conditions = `{ function_args: { to: { in: ["${ALICE}", "${BOB}"] } } }`;
    assert.equal(outcome(conditions, call({ to: BOB })), 'holds');
    assert.equal(outcome(conditions, call({ to: CAROL })), 'fails');
    assert.equal(outcome('{ function_args: { id: { in: [1, "2", 3] } } }', call({ id: 2n })), 'holds');
    assert.equal(outcome('{ function_args: { id: { in: [1, "2", 3] } } }', call({ id: 4n })), 'fails');
  });
  it('min / max: inclusive integer bounds, beyond 2^53 exactly', () => {
    const conditions = '{ function_args: { amount: { min: 1, max: "18446744073709551616" } } }';
    assert.equal(outcome(conditions, call({ amount: 1n })), 'holds');
    assert.equal(outcome(conditions, call({ amount: 18446744073709551616n })), 'holds');
    assert.equal(outcome(conditions, call({ amount: 18446744073709551617n })), 'fails');
    assert.equal(outcome(conditions, call({ amount: 0n })), 'fails');
    assert.equal(outcome('{ function_args: { delta: { min: "-5" } } }', call({ delta: -5n })), 'holds');
    assert.equal(outcome('{ function_args: { delta: { min: "-5" } } }', call({ delta: -6n })), 'fails');
  });
  it('every constrained argument must hold; positions name unnamed arguments', () => {
    const conditions = `{ function_args: { "0": { eq: "${ALICE}" }, "1": { max: 100 } } }`;
    assert.equal(outcome(conditions, call({ 0: ALICE, 1: 100n })), 'holds');
    assert.equal(outcome(conditions, call({ 0: ALICE, 1: 101n })), 'fails');
    assert.equal(outcome(conditions, call({ 0: BOB, 1: 1n })), 'fails');
  });
  it('unknown: no decoded call, a missing argument, or a value of a kind the constraint does not name', () => {
    assert.equal(outcome('{ function_args: { amount: { max: 1 } } }', facts()), UNKNOWN);
    assert.equal(outcome('{ function_args: { amount: { max: 1 } } }', call({ value: 1n })), UNKNOWN);
    assert.equal(outcome('{ function_args: { amount: { max: 1 } } }', call({ amount: '1' })), UNKNOWN);
    assert.equal(outcome(`{ function_args: { to: { eq: "${ALICE}" } } }`, call({ to: 5n })), UNKNOWN);
    assert.equal(outcome('{ function_args: { path: { eq: "0x" } } }', call({ path: ['0x'] })), UNKNOWN);
    // a false argument decides even when another is unknown
    assert.equal(outcome('{ function_args: { amount: { max: 1 }, to: { eq: true } } }', call({ amount: 2n })), 'fails');
  });
  it('does not read inherited properties of the args object', () => {
    assert.equal(outcome('{ function_args: { constructor: { eq: "x" } } }', call({})), UNKNOWN);
  });
  it('refuses malformed constraints with precise paths', () => {
    assert.deepEqual(
      issues(
        oneRule(
          '{ function_args: { a: { eq: 1, max: 2 }, b: { min: 3, max: 2 }, c: { max: "1.5" }, "bad name": { eq: 1 }, d: { in: [1.5] } } }',
        ),
      ).map((i) => i.path),
      [
        'policies[0].conditions.function_args.a',
        'policies[0].conditions.function_args.b.min',
        'policies[0].conditions.function_args.c.max',
        'policies[0].conditions.function_args["bad name"]',
        'policies[0].conditions.function_args.d.in[0]',
      ],
    );
    assert.equal(issues(oneRule('{ function_args: {} }')).length, 1);
    assert.equal(issues(oneRule('{ function_args: { a: {} } }')).length, 1);
    assert.equal(issues(oneRule('{ function_args: { a: { ne: 1 } } }')).length, 1);
    assert.equal(issues(oneRule(`{ function_args: { a: { eq: "${ALICE.replace('C51812', 'c51812')}" } } }`)).length, 1);
    assert.equal(issues(oneRule('{ function_args: { a: { in: ["@nowhere"] } } }')).length, 1);
  });
});

// x402_host and x402_payee: the facts an operator writes x402 rules with ("at most 0.05 USD a request to
// api.example.com, only to payees listed or first seen for that host").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, loadPolicySet, type X402PayeeStatus } from '../src/index.ts';
import { outcome } from './decide.ts';
import { BOB, facts, oneRule } from './fixtures.ts';

const payment = (host?: string, payeeStatus: X402PayeeStatus = 'pinned', valueUsd = 50_000n) =>
  facts({
    type: 'x402_payment',
    recipient: BOB,
    valueUsd,
    priceStatus: 'ok',
    ...(host === undefined ? {} : { x402: { host, resource: `https://${host}/data`, payee: BOB, payeeStatus } }),
  });

describe('x402_host', () => {
  it('holds for a listed host, whatever the case; *.example.com matches hosts under it only', () => {
    const conditions = `{ transaction_type: x402_payment, x402_host: ["api.example.com", "*.pay.example.org"] }`;
    assert.equal(outcome(conditions, payment('api.example.com')), 'holds');
    assert.equal(outcome(conditions, payment('API.Example.COM')), 'holds');
    assert.equal(outcome(conditions, payment('a.pay.example.org')), 'holds');
    assert.equal(outcome(conditions, payment('pay.example.org')), 'fails');
    assert.equal(outcome(conditions, payment('evil-api.example.com')), 'fails');
  });

  it('is unknown without the fact, and does not match other kinds when paired with transaction_type', () => {
    assert.equal(outcome(`{ x402_host: api.example.com }`, payment()), 'policy.condition_unknown_fact');
    assert.equal(
      outcome(`{ transaction_type: x402_payment, x402_host: api.example.com }`, facts({ type: 'transfer' })),
      'fails',
    );
  });

  it('refuses a malformed host at load', () => {
    assert.throws(() => loadPolicySet(oneRule('{ x402_host: "https://api.example.com/" }', 'auto_approve')));
  });
});

describe('x402_payee', () => {
  it('holds for the listed statuses only', () => {
    const conditions = `{ transaction_type: x402_payment, x402_payee: [listed, pinned] }`;
    assert.equal(outcome(conditions, payment('api.example.com', 'listed')), 'holds');
    assert.equal(outcome(conditions, payment('api.example.com', 'pinned')), 'holds');
    assert.equal(outcome(conditions, payment('api.example.com', 'new')), 'fails');
    assert.throws(() => loadPolicySet(oneRule('{ x402_payee: trusted }', 'auto_approve')));
  });
});

describe('an x402 rule as operators write it', () => {
  const set = loadPolicySet(
    oneRule(
      '{ transaction_type: x402_payment, x402_host: api.example.com, x402_payee: [listed, pinned, new], max_value_usd: "0.05" }',
      'auto_approve',
    ),
  );
  it('pays 0.05 USD a request to api.example.com, not more, and nothing to another host', () => {
    assert.equal(evaluate(set, payment('api.example.com', 'new', 50_000n)).action, 'auto_approve');
    assert.equal(evaluate(set, payment('api.example.com', 'pinned', 50_001n)).action, 'reject');
    assert.equal(evaluate(set, payment('other.example.com', 'pinned', 10_000n)).action, 'reject');
  });
});

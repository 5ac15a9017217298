import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicySet } from '../src/index.ts';
import { outcome } from './decide.ts';
import { facts, factsWithout, oneRule } from './fixtures.ts';

const UNKNOWN = 'policy.condition_unknown_fact';

describe('chain', () => {
  it('a single chain id or a list', () => {
    assert.equal(outcome('{ chain: 31337 }', facts({ chainId: 31337 })), 'holds');
    assert.equal(outcome('{ chain: 31337 }', facts({ chainId: 1 })), 'fails');
    assert.equal(outcome('{ chain: [1, 8453] }', facts({ chainId: 8453 })), 'holds');
    assert.equal(outcome('{ chain: [1, 8453] }', facts({ chainId: 31337 })), 'fails');
  });
  it('unknown without a chain id', () => {
    assert.equal(outcome('{ chain: 1 }', factsWithout('chainId')), UNKNOWN);
  });
  it('refuses a chain id that is not a positive whole number', () => {
    for (const bad of ['0', '"1"', '1.5', '[]', '-1'])
      assert.throws(() => loadPolicySet(oneRule(`{ chain: ${bad} }`)), bad);
  });
});

describe('agent', () => {
  it('an agent id or a list, compared exactly', () => {
    assert.equal(outcome('{ agent: agent-1 }', facts({ agentId: 'agent-1' })), 'holds');
    assert.equal(outcome('{ agent: agent-1 }', facts({ agentId: 'Agent-1' })), 'fails');
    assert.equal(outcome('{ agent: [a, b] }', facts({ agentId: 'b' })), 'holds');
    assert.equal(outcome('{ agent: [a, b] }', facts({ agentId: 'c' })), 'fails');
  });
  it('unknown without an agent id', () => {
    assert.equal(outcome('{ agent: a }', facts()), UNKNOWN);
  });
});

describe('api_key', () => {
  it('a key id or a list', () => {
    assert.equal(outcome('{ api_key: k1 }', facts({ apiKeyId: 'k1' })), 'holds');
    assert.equal(outcome('{ api_key: [k1, k2] }', facts({ apiKeyId: 'k3' })), 'fails');
  });
  it('unknown without a key id', () => {
    assert.equal(outcome('{ api_key: k1 }', facts()), UNKNOWN);
  });
  it('refuses an empty id or list', () => {
    assert.throws(() => loadPolicySet(oneRule('{ api_key: "" }')));
    assert.throws(() => loadPolicySet(oneRule('{ api_key: [] }')));
  });
});

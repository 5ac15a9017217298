import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicySet } from '../src/index.ts';
import { outcome } from './decide.ts';
import { facts, oneRule } from './fixtures.ts';

const UNKNOWN = 'policy.condition_unknown_fact';
const mcpTransfer = facts({ origin: { channel: 'mcp', tool: 'transfer' } });

describe('origin', () => {
  it('a channel or a list of channels', () => {
    assert.equal(outcome('{ origin: { channel: mcp } }', mcpTransfer), 'holds');
    assert.equal(outcome('{ origin: { channel: [rest, rpc] } }', mcpTransfer), 'fails');
    assert.equal(outcome('{ origin: { channel: [rest, rpc] } }', facts({ origin: { channel: 'rpc' } })), 'holds');
  });
  it('a tool or a list of tools; an intent without a tool does not match one', () => {
    assert.equal(outcome('{ origin: { channel: mcp, tool: transfer } }', mcpTransfer), 'holds');
    assert.equal(outcome('{ origin: { tool: [swap, contract_call] } }', mcpTransfer), 'fails');
    assert.equal(outcome('{ origin: { tool: transfer } }', facts({ origin: { channel: 'rest' } })), 'fails');
  });
  it('unknown when the origin is not known', () => {
    assert.equal(outcome('{ origin: { channel: mcp } }', facts()), UNKNOWN);
  });
  it('refuses an unknown channel, an empty mapping or an unknown key', () => {
    for (const bad of ['{ channel: email }', '{}', '{ client: claude }', 'mcp', '{ tool: "" }'])
      assert.throws(() => loadPolicySet(oneRule(`{ origin: ${bad} }`)), bad);
  });
});

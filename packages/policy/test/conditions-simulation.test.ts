import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SimulationFacts } from '../src/index.ts';
import { outcome } from './decide.ts';
import { ALICE, BOB, CAROL, USDC, facts } from './fixtures.ts';

const UNKNOWN = 'policy.condition_unknown_fact';
const simulated = (simulation: SimulationFacts | undefined) =>
  facts({ type: 'contract_call', ...(simulation === undefined ? {} : { simulation }) });
const NONE: SimulationFacts = { netOutflowUsd: 0n, newApprovals: [], recipientsTouched: [] };

describe('simulation: required | waived', () => {
  it('holds when the intent was simulated, fails closed when it was not', () => {
    assert.equal(outcome('{ simulation: required }', simulated(NONE)), 'holds');
    assert.equal(outcome('{ simulation: required }', simulated(undefined)), UNKNOWN);
  });
  it('waived always holds (it marks the rule; the gateway reads it when the simulation cannot run)', () => {
    assert.equal(outcome('{ simulation: waived }', simulated(undefined)), 'holds');
    assert.equal(outcome('{ simulation: waived }', simulated(NONE)), 'holds');
  });
  it('accepts only "required" or "waived"', () => {
    assert.throws(() => outcome('{ simulation: optional }', simulated(NONE)), /simulation/);
  });
});

describe('max_net_outflow_usd', () => {
  it('compares the simulated net outflow in micro-USD, inclusive', () => {
    assert.equal(outcome('{ max_net_outflow_usd: 100 }', simulated({ ...NONE, netOutflowUsd: 100_000_000n })), 'holds');
    assert.equal(outcome('{ max_net_outflow_usd: 100 }', simulated({ ...NONE, netOutflowUsd: 100_000_001n })), 'fails');
  });
  it('is unknown without a simulation or without a priced outflow', () => {
    assert.equal(outcome('{ max_net_outflow_usd: 100 }', simulated(undefined)), UNKNOWN);
    const { netOutflowUsd: _unpriced, ...rest } = NONE;
    assert.equal(outcome('{ max_net_outflow_usd: 100 }', simulated(rest)), UNKNOWN);
  });
});

describe('new_approvals', () => {
  const granting: SimulationFacts = { ...NONE, newApprovals: [{ asset: USDC, spender: CAROL, unlimited: true }] };
  it('holds when whether an approval is granted equals the value', () => {
    assert.equal(outcome('{ new_approvals: true }', simulated(granting)), 'holds');
    assert.equal(outcome('{ new_approvals: true }', simulated(NONE)), 'fails');
    assert.equal(outcome('{ new_approvals: false }', simulated(NONE)), 'holds');
    assert.equal(outcome('{ new_approvals: false }', simulated(undefined)), UNKNOWN);
  });
});

describe('recipients_touched_whitelist', () => {
  const rule = `{ recipients_touched_whitelist: ["${ALICE}", "${BOB}"] }`;
  it('holds when every touched recipient is listed (none touched: holds)', () => {
    assert.equal(outcome(rule, simulated({ ...NONE, recipientsTouched: [ALICE, BOB] })), 'holds');
    assert.equal(outcome(rule, simulated(NONE)), 'holds');
    assert.equal(outcome(rule, simulated({ ...NONE, recipientsTouched: [ALICE, CAROL] })), 'fails');
    assert.equal(outcome(rule, simulated(undefined)), UNKNOWN);
  });
});

import Type from 'typebox';
import { defineCondition } from '../condition.ts';

/**
 * `simulation`: `required` — the intent was simulated before the decision; without a simulation (SIMULATION=off,
 * or an intent kind that is not simulated) the condition is unknown, so the rule fails closed: a rule that needs a
 * simulation gets one or denies. `waived` — always holds; it marks the rule as one whose intents may proceed when
 * the simulation cannot run (the chain's RPC has no eth_simulateV1, or it is down). A simulation that runs and
 * finds a revert or an unexpected outflow still refuses, waived or not.
 */
export const simulationCondition = defineCondition({
  key: 'simulation',
  description:
    "required: holds when the transaction was simulated (fails closed without one). waived: always holds, and lets the rule's intents proceed when the simulation cannot run.",
  expects: '"required" or "waived"',
  facts: ['simulation'],
  schema: Type.Union([Type.Literal('required'), Type.Literal('waived')]),
  compile(value) {
    if (value === 'waived') return () => true;
    return (facts) => (typeof facts.simulation === 'object' && facts.simulation !== null ? true : 'unknown');
  },
});

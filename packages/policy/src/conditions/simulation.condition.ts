import Type from 'typebox';
import { defineCondition } from '../condition.ts';

/**
 * `simulation: required`: the intent was simulated before the decision. Without a simulation (SIMULATION=off, or
 * an intent kind that is not simulated) the condition is unknown, so the rule fails closed: a rule that needs a
 * simulation gets one or denies.
 */
export const simulationCondition = defineCondition({
  key: 'simulation',
  description: 'Holds when the transaction was simulated before the decision (`required`); without a simulation the rule fails closed.',
  expects: '"required"',
  facts: ['simulation'],
  schema: Type.Literal('required'),
  compile() {
    return (facts) => (typeof facts.simulation === 'object' && facts.simulation !== null ? true : 'unknown');
  },
});

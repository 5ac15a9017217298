import { defineCondition } from '../condition.ts';
import { IdOrListSchema, memberOf } from './string-set.ts';

/** `agent`: the intent comes from the given agent, or one of a list (the gateway's agent ids). */
export const agentCondition = defineCondition({
  key: 'agent',
  description: 'Holds when the intent comes from the given agent id, or one of the listed ones.',
  expects: 'an agent id, or a non-empty list of them',
  facts: ['agentId'],
  schema: IdOrListSchema,
  compile: (value) => memberOf(value, (facts) => facts.agentId),
});

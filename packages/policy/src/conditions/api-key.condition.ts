import { defineCondition } from '../condition.ts';
import { IdOrListSchema, memberOf } from './string-set.ts';

/** `api_key`: the agent authenticated with the given API key, or one of a list (key ids, never the keys). */
export const apiKeyCondition = defineCondition({
  key: 'api_key',
  description: 'Holds when the agent authenticated with the given API key id, or one of the listed ones.',
  expects: 'an API key id, or a non-empty list of them',
  facts: ['apiKeyId'],
  schema: IdOrListSchema,
  compile: (value) => memberOf(value, (facts) => facts.apiKeyId),
});

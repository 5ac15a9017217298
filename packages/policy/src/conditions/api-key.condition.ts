import { defineCondition } from '../condition.ts';
import { IdOrListSchema, stringSet } from './string-set.ts';

/** `api_key`: the agent authenticated with the given API key, or one of a list (key ids, never the keys). */
export const apiKeyCondition = defineCondition({
  key: 'api_key',
  description: 'Holds when the agent authenticated with the given API key id, or one of the listed ones.',
  expects: 'an API key id, or a non-empty list of them',
  facts: ['apiKeyId'],
  schema: IdOrListSchema,
  compile(value) {
    const keys = stringSet(value);
    return (facts) => {
      const apiKeyId = facts.apiKeyId;
      if (typeof apiKeyId !== 'string') return 'unknown';
      return keys.has(apiKeyId);
    };
  },
});

import { defineCondition } from '../condition.ts';
import { parseUsd, USD_EXPECTS, UsdAmountSchema } from './usd.ts';

/** `max_net_outflow_usd`: the simulated USD leaving the signer, net of what arrives, is at most this (inclusive). */
export const maxNetOutflowUsdCondition = defineCondition({
  key: 'max_net_outflow_usd',
  description:
    'Holds when the simulated net USD outflow of the signer (what leaves minus what arrives) is at most this amount; inclusive, micro-USD.',
  expects: USD_EXPECTS,
  facts: ['simulation'],
  schema: UsdAmountSchema,
  compile(value) {
    const limit = parseUsd(value);
    return (facts) => {
      const outflow = facts.simulation?.netOutflowUsd;
      if (typeof outflow !== 'bigint' || outflow < 0n) return 'unknown';
      return outflow <= limit;
    };
  },
});

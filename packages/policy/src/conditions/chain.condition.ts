import Type from 'typebox';
import { defineCondition } from '../condition.ts';

const ChainId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/** `chain`: the intent is for the given EIP-155 chain id, or one of a list. */
export const chainCondition = defineCondition({
  key: 'chain',
  description: "Holds when the intent's chain id is the given one, or one of the listed ones.",
  expects: 'a chain id (a positive whole number such as 8453), or a non-empty list of them',
  facts: ['chainId'],
  schema: Type.Union([ChainId, Type.Array(ChainId, { minItems: 1, maxItems: 1000 })]),
  compile(value) {
    const chains: ReadonlySet<number> = new Set(typeof value === 'number' ? [value] : value);
    return (facts) => {
      const chainId = facts.chainId;
      if (typeof chainId !== 'number') return 'unknown';
      return chains.has(chainId);
    };
  },
});

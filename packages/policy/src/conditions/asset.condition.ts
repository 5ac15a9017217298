import Type from 'typebox';
import { ConditionValueError, defineCondition, type ConditionValueIssue } from '../condition.ts';
import { addressFact, MAX_ADDRESS_LIST_ITEMS, parsePolicyAddress } from './address-list.ts';

const AssetName = Type.String({ minLength: 1, maxLength: 64 });

/** `asset`: the intent moves the chain's native coin, or one of the listed tokens. */
export const assetCondition = defineCondition({
  key: 'asset',
  description: "Holds when the intent's asset is the given one ('native' or a token address), or one of a list.",
  expects: "'native' or a token address, or a non-empty list of them",
  facts: ['asset'],
  schema: Type.Union([AssetName, Type.Array(AssetName, { minItems: 1, maxItems: MAX_ADDRESS_LIST_ITEMS })]),
  compile(value) {
    const single = typeof value === 'string';
    const items = single ? [value] : value;
    const issues: ConditionValueIssue[] = [];
    const assets = new Set<string>();
    items.forEach((item, index) => {
      if (item === 'native') {
        assets.add('native');
        return;
      }
      const address = parsePolicyAddress(item, single ? '' : `[${index}]`, issues);
      if (address !== undefined) assets.add(address.toLowerCase());
    });
    if (issues.length > 0) {
      throw new ConditionValueError(
        issues.map((i) => ({ path: i.path, message: `${i.message} (and is not 'native')` })),
      );
    }
    return (facts) => {
      const asset = facts.asset === 'native' ? 'native' : addressFact(facts.asset);
      if (asset === undefined) return 'unknown';
      return assets.has(asset);
    };
  },
});

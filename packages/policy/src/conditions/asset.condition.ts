import Type from 'typebox';
import { ConditionValueError, defineCondition, oneOrListItems, type ConditionValueIssue } from '../condition.ts';
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
    const issues: ConditionValueIssue[] = [];
    const assets = new Set<string>();
    for (const { item, path } of oneOrListItems(value)) {
      if (item === 'native') {
        assets.add('native');
        continue;
      }
      const address = parsePolicyAddress(item, path, issues);
      if (address !== undefined) assets.add(address.toLowerCase());
    }
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

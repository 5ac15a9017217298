import Type from 'typebox';
import { parseAbiItem, toFunctionSelector, type AbiFunction } from 'viem';
import { ConditionValueError, defineCondition, oneOrListItems, type ConditionValueIssue } from '../condition.ts';

const SELECTOR = /^0x[0-9a-fA-F]{8}$/;
const SIGNATURE = /^(function\s+)?[A-Za-z_$][A-Za-z0-9_$]*\(/;
const Item = Type.String({ minLength: 1, maxLength: 1000 });

/**
 * Selector of a function signature such as `transfer(address,uint256)` (parameter names, `function`, `returns`
 * and mutability are allowed and ignored), or undefined if it does not parse as a Solidity function: an unknown
 * type like `adress` is an error, never a hash of a typo.
 */
export function selectorOfSignature(signature: string): `0x${string}` | undefined {
  if (!SIGNATURE.test(signature)) return undefined;
  try {
    const item = parseAbiItem(signature.startsWith('function') ? signature : `function ${signature}`);
    if ((item as { type?: string }).type !== 'function') return undefined;
    return toFunctionSelector(item as AbiFunction);
  } catch {
    return undefined;
  }
}

/** `function_selector`: the call's 4-byte selector is the given one, or one of a list; signatures are hashed at load. */
export const functionSelectorCondition = defineCondition({
  key: 'function_selector',
  description:
    'Holds when the call\'s 4-byte function selector is the given one, or one of a list; a signature such as "transfer(address,uint256)" is hashed at load.',
  expects:
    'a selector such as "0xa9059cbb" or a signature such as "transfer(address,uint256)", or a non-empty list of them',
  facts: ['selector'],
  schema: Type.Union([Item, Type.Array(Item, { minItems: 1, maxItems: 1000 })]),
  compile(value) {
    const issues: ConditionValueIssue[] = [];
    const selectors = new Set<string>();
    for (const { item, path } of oneOrListItems(value)) {
      const selector = SELECTOR.test(item) ? item.toLowerCase() : selectorOfSignature(item.trim());
      if (selector === undefined) {
        issues.push({
          path,
          message:
            'is neither a 4-byte selector (0x + 8 hex digits) nor a function signature with valid Solidity types',
        });
      } else {
        selectors.add(selector);
      }
    }
    if (issues.length > 0) throw new ConditionValueError(issues);
    return (facts) => {
      const selector = facts.selector;
      if (typeof selector !== 'string') return 'unknown';
      return selectors.has(selector) || selectors.has(selector.toLowerCase());
    };
  },
});

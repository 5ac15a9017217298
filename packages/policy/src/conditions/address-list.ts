import Type from 'typebox';
import { Clawd402Error, parseAddress } from '@clawd402/protocol';
import type { Address } from 'viem';
import {
  ConditionValueError,
  type CompileContext,
  type ConditionTest,
  type ConditionValueIssue,
} from '../condition.ts';
import type { AvailableFacts } from '../facts.ts';

/** The most items one address list may hold (a condition's list, or one named list under `address_lists`). */
export const MAX_ADDRESS_LIST_ITEMS = 10_000;

/** What an address list condition's value is and how it is shaped: addresses and `"@name"` references. */
export const ADDRESS_LIST_VALUE = {
  expects: 'a non-empty list of addresses and "@name" references to address_lists',
  schema: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_ADDRESS_LIST_ITEMS }),
};

/**
 * Parse one address written in a policy with the protocol's rules: all-lowercase and all-uppercase are accepted,
 * mixed case must pass EIP-55. Returns the checksummed address, or pushes an issue at `path` and returns undefined.
 */
export function parsePolicyAddress(value: string, path: string, issues: ConditionValueIssue[]): Address | undefined {
  try {
    return parseAddress('address', value);
  } catch (error) {
    if (error instanceof Clawd402Error && error.code === 'invalid_address_checksum') {
      issues.push({ path, message: 'is a mixed-case address that fails its EIP-55 checksum' });
    } else {
      issues.push({ path, message: 'is not a 0x-prefixed 20-byte hex address' });
    }
    return undefined;
  }
}

/** A reference to a named list in an address list condition: `"@treasury"`. */
export const LIST_REFERENCE = /^@([A-Za-z_][A-Za-z0-9_-]{0,63})$/;

/**
 * Compile a list of addresses into a Set of lowercase strings, so that a fact matches whether the gateway hands
 * it over checksummed or lowercase, with one hash lookup per evaluation. With a `context`, an item `"@name"` stands
 * for every address of the document's named list `name` (see `address_lists`); without one, it is an issue.
 */
export function compileAddressSet(
  values: readonly string[],
  issues: ConditionValueIssue[],
  context?: CompileContext,
): ReadonlySet<string> {
  // A condition that is exactly one reference shares the named list's Set instead of copying it.
  if (values.length === 1 && context !== undefined) {
    const only = LIST_REFERENCE.exec(values[0]!);
    const shared = only === null ? undefined : context.addressLists.get(only[1]!);
    if (shared !== undefined) return shared;
  }
  const set = new Set<string>();
  values.forEach((value, index) => {
    const reference = context === undefined ? null : LIST_REFERENCE.exec(value);
    if (reference !== null) {
      const named = context!.addressLists.get(reference[1]!);
      if (named === undefined) {
        issues.push({ path: `[${index}]`, message: `names no list under address_lists (${value})` });
      } else {
        for (const address of named) set.add(address);
      }
      return;
    }
    const address = parsePolicyAddress(value, `[${index}]`, issues);
    if (address !== undefined) set.add(address.toLowerCase());
  });
  return set;
}

let lastFact: string | undefined;
let lastLowercase: string | undefined;

/**
 * Lowercase an address fact, or undefined if the fact is missing or not a string (the caller answers 'unknown').
 * Remembers the last answer: every address condition of every rule in one evaluation reads the same fact, so a
 * large set lowercases it once rather than once per rule.
 */
export function addressFact(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value !== lastFact) {
    lastFact = value;
    lastLowercase = value.toLowerCase();
  }
  return lastLowercase;
}

/** {@link compileAddressSet} for a condition's value: every issue found is thrown at once as a ConditionValueError. */
export function compileConditionAddressSet(values: readonly string[], context: CompileContext): ReadonlySet<string> {
  const issues: ConditionValueIssue[] = [];
  const set = compileAddressSet(values, issues, context);
  if (issues.length > 0) throw new ConditionValueError(issues);
  return set;
}

/**
 * A test that holds when the address fact `read(facts)` is in `set`, and answers 'unknown' when the fact is missing
 * or not a string. Whether holding means allowed (a whitelist) or blocked (a blacklist) is the condition's to say.
 */
export function addressFactIn(set: ReadonlySet<string>, read: (facts: AvailableFacts) => unknown): ConditionTest {
  return (facts) => {
    const address = addressFact(read(facts));
    if (address === undefined) return 'unknown';
    return set.has(address);
  };
}

import { Clawd402Error, parseAddress } from '@clawd402/protocol';
import type { Address } from 'viem';
import type { ConditionValueIssue } from '../condition.ts';

/** The most addresses one list may hold; named address lists with larger sets come later. */
export const MAX_ADDRESS_LIST_ITEMS = 10_000;

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

/**
 * Compile a list of addresses into a Set of lowercase strings, so that a fact matches whether the gateway hands
 * it over checksummed or lowercase, with one hash lookup per evaluation.
 */
export function compileAddressSet(values: readonly string[], issues: ConditionValueIssue[]): ReadonlySet<string> {
  const set = new Set<string>();
  values.forEach((value, index) => {
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

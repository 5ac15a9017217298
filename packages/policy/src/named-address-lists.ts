import Type from 'typebox';
import type { ConditionValueIssue } from './condition.ts';
import { MAX_ADDRESS_LIST_ITEMS, parsePolicyAddress } from './conditions/address-list.ts';
import { joinPath, type PolicyIssue } from './parse-document.ts';

/** Most named lists one document may hold under `address_lists`. */
export const MAX_ADDRESS_LISTS = 100;

/** A list name: what follows `@` in a reference. */
export const ADDRESS_LIST_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** `address_lists:` as the JSON Schema publishes it (the loader checks names and addresses itself). */
export const AddressListsSchema = Type.Record(
  Type.String({ pattern: ADDRESS_LIST_NAME.source }),
  Type.Array(Type.String(), { minItems: 1, maxItems: MAX_ADDRESS_LIST_ITEMS }),
  { maxProperties: MAX_ADDRESS_LISTS, additionalProperties: false },
);

/** The named lists of a document: as written and compiled (Sets of lowercase addresses). */
export interface NamedAddressLists {
  readonly written: Readonly<Record<string, readonly string[]>>;
  readonly compiled: ReadonlyMap<string, ReadonlySet<string>>;
}

const EMPTY: NamedAddressLists = Object.freeze({ written: Object.freeze({}), compiled: new Map() });

/**
 * Read the top-level `address_lists` mapping (absent → none). Each list is a non-empty list of plain addresses (no
 * references to other lists). Pushes issues with paths such as `address_lists.treasury[2]`.
 */
export function parseAddressLists(
  document: Readonly<Record<string, unknown>>,
  issues: PolicyIssue[],
): NamedAddressLists {
  if (!Object.hasOwn(document, 'address_lists')) return EMPTY;
  const raw = document['address_lists'];
  const path = 'address_lists';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push({ path, message: 'must be a mapping of list names to lists of addresses' });
    return EMPTY;
  }
  const entries = Object.entries(raw);
  if (entries.length > MAX_ADDRESS_LISTS) {
    issues.push({ path, message: `holds ${entries.length} lists; at most ${MAX_ADDRESS_LISTS} are allowed` });
    return EMPTY;
  }
  const written: Record<string, readonly string[]> = {};
  const compiled = new Map<string, ReadonlySet<string>>();
  for (const [name, list] of entries) {
    const listPath = joinPath(path, name);
    if (!ADDRESS_LIST_NAME.test(name)) {
      issues.push({
        path: listPath,
        message: 'is not a valid list name (a letter or "_", then letters, digits, "_" or "-"; at most 64)',
      });
      continue;
    }
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_ADDRESS_LIST_ITEMS) {
      issues.push({
        path: listPath,
        message: `must be a non-empty list of at most ${MAX_ADDRESS_LIST_ITEMS} addresses`,
      });
      continue;
    }
    const itemIssues: ConditionValueIssue[] = [];
    const addresses: string[] = [];
    const set = new Set<string>();
    list.forEach((item, index) => {
      if (typeof item !== 'string') {
        itemIssues.push({ path: `[${index}]`, message: 'must be an address string' });
        return;
      }
      const address = parsePolicyAddress(item, `[${index}]`, itemIssues);
      if (address === undefined) return;
      addresses.push(item);
      set.add(address.toLowerCase());
    });
    for (const issue of itemIssues) issues.push({ path: listPath + issue.path, message: issue.message });
    Object.defineProperty(written, name, { value: Object.freeze(addresses), enumerable: true });
    compiled.set(name, set);
  }
  return { written: Object.freeze(written), compiled };
}

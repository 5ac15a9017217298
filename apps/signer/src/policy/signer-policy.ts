import { SIGN_OPERATIONS, SignerError, type SignOperation } from '@clawd402/protocol';
import { parse as parseYaml } from 'yaml';
import { parseEther } from 'viem';
import { readConfigText, SignerConfigError } from '../keystore.ts';

/**
 * The signer's own limits, independent of the gateway's policy: what a compromised gateway can still make it sign.
 *
 *   version: 1
 *   keys:
 *     "0xAbC…":                        # key id (checksummed address; any case)
 *       chains: [1, 8453]              # chain ids this key signs for
 *       maxValuePerTx: "0.5"           # native units (ETH, POL, …: 18 decimals), decimal string
 *       maxValuePerDay: "5"            # rolling 24 hours
 *       operations: [transaction, typed_data, personal_sign]
 *   default: { … same fields … }       # optional: keys the file does not name; without it they sign nothing
 *
 * Both caps count a transaction's worst case, value + gas × maxFeePerGas. Typed data and messages count zero (they
 * move no native value by themselves; allow them per key only where needed). A rotated key's successor uses the
 * successor's own entry if it has one, else its predecessor's.
 */
export interface KeyPolicy {
  chains: ReadonlySet<number>;
  maxValuePerTx: bigint;
  maxValuePerDay: bigint;
  operations: ReadonlySet<SignOperation>;
}

export interface SignerPolicy {
  /** Entries by lower-cased key id. */
  keys: ReadonlyMap<string, KeyPolicy>;
  default: KeyPolicy | null;
}

const ENTRY_FIELDS = ['chains', 'maxValuePerTx', 'maxValuePerDay', 'operations'];
const NATIVE_AMOUNT = /^(0|[1-9][0-9]{0,59})(\.[0-9]{1,18})?$/;

/** Parse a policy (YAML or JSON text). Every field is required and nothing unknown is accepted. */
export function parseSignerPolicy(text: string, source = 'signer policy'): SignerPolicy {
  let doc: unknown;
  try {
    doc = parseYaml(text, { strict: true, uniqueKeys: true });
  } catch (cause) {
    throw new SignerConfigError(`${source} is not valid YAML or JSON`, { cause });
  }
  if (!isObject(doc)) throw new SignerConfigError(`${source} must be a mapping with version and keys`);
  const unknown = Object.keys(doc).filter((k) => !['version', 'keys', 'default'].includes(k));
  if (unknown.length > 0) throw new SignerConfigError(`${source}: unknown field ${unknown[0]}`);
  if (doc.version !== 1) throw new SignerConfigError(`${source}: version must be 1`);
  if (doc.keys === undefined && (doc.default === undefined || doc.default === null))
    throw new SignerConfigError(`${source}: give keys, default, or both`);
  if (doc.keys !== undefined && !isObject(doc.keys))
    throw new SignerConfigError(`${source}: keys must be a mapping of key id to limits`);
  const keys = new Map<string, KeyPolicy>();
  for (const [id, entry] of Object.entries(doc.keys ?? {})) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(id)) throw new SignerConfigError(`${source}: "${id}" is not a key id (an address)`);
    if (keys.has(id.toLowerCase())) throw new SignerConfigError(`${source}: key ${id} is listed twice`);
    keys.set(id.toLowerCase(), parseEntry(entry, `${source} keys.${id}`));
  }
  const fallback =
    doc.default === undefined || doc.default === null ? null : parseEntry(doc.default, `${source} default`);
  return { keys, default: fallback };
}

export function loadSignerPolicy(path: string): SignerPolicy {
  return parseSignerPolicy(readConfigText(path, `signer policy ${path}`), `signer policy ${path}`);
}

function parseEntry(entry: unknown, where: string): KeyPolicy {
  if (!isObject(entry)) throw new SignerConfigError(`${where} must be a mapping`);
  for (const name of Object.keys(entry))
    if (!ENTRY_FIELDS.includes(name)) throw new SignerConfigError(`${where}: unknown field ${name}`);
  for (const name of ENTRY_FIELDS) if (!(name in entry)) throw new SignerConfigError(`${where}: ${name} is required`);
  const { chains, operations } = entry;
  if (
    !Array.isArray(chains) ||
    chains.length === 0 ||
    !chains.every((c) => Number.isSafeInteger(c) && (c as number) >= 1)
  ) {
    throw new SignerConfigError(`${where}: chains must be a non-empty list of chain ids`);
  }
  if (!Array.isArray(operations) || !operations.every((o) => (SIGN_OPERATIONS as readonly unknown[]).includes(o))) {
    throw new SignerConfigError(`${where}: operations must list some of ${SIGN_OPERATIONS.join(', ')}`);
  }
  return {
    chains: new Set(chains as number[]),
    maxValuePerTx: parseNative(entry.maxValuePerTx, `${where}.maxValuePerTx`),
    maxValuePerDay: parseNative(entry.maxValuePerDay, `${where}.maxValuePerDay`),
    operations: new Set(operations as SignOperation[]),
  };
}

/** "1.5" native units → wei. Only plain decimal strings: no numbers (no float rounding), exponents or signs. */
function parseNative(value: unknown, where: string): bigint {
  if (typeof value !== 'string' || !NATIVE_AMOUNT.test(value)) {
    throw new SignerConfigError(
      `${where} must be a decimal string of native units with at most 18 decimals, like "0.5"`,
    );
  }
  return parseEther(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** What the policy needs to know about a key besides its id. */
export interface KeyStanding {
  state: 'active' | 'cancel_only';
  /** Ids of the keys this one replaced, nearest first (for policy inheritance). */
  predecessors: readonly string[];
}

/** The entry that governs `keyId`: its own, else a predecessor's, else the default; null when none does. */
export function policyFor(policy: SignerPolicy, keyId: string, standing: KeyStanding): KeyPolicy | null {
  for (const id of [keyId, ...standing.predecessors]) {
    const entry = policy.keys.get(id.toLowerCase());
    if (entry) return entry;
  }
  return policy.default;
}

export interface SignFacts {
  operation: SignOperation;
  chainId: number;
  /** Worst-case native value (wei) this signature can move: value + gas × maxFeePerGas, or 0. */
  amount: bigint;
  /** For transactions: the fields the cancel-only rule looks at. */
  transaction?: { to: string; value: bigint; data: string };
}

/** A cancellation: a transfer of zero to the key itself with no data (it only uses up the nonce). */
export function isSelfCancellation(tx: { to: string; value: bigint; data: string }, keyAddress: string): boolean {
  return tx.value === 0n && tx.data === '0x' && tx.to.toLowerCase() === keyAddress.toLowerCase();
}

/**
 * Check one request against the key's entry (everything but the rolling-day cap, which the journal checks and reserves
 * atomically). `policy` null means no policy file is configured (development): no per-key limits.
 */
export function checkPolicy(
  policy: SignerPolicy | null,
  keyId: string,
  standing: KeyStanding,
  facts: SignFacts,
): KeyPolicy | null {
  if (standing.state === 'cancel_only') {
    const tx = facts.transaction;
    if (!(facts.operation === 'transaction' && tx !== undefined && isSelfCancellation(tx, keyId)))
      throw new SignerError('key_cancel_only');
  }
  if (policy === null) return null;
  const entry = policyFor(policy, keyId, standing);
  if (!entry?.operations.has(facts.operation)) throw new SignerError('operation_not_allowed');
  if (!entry.chains.has(facts.chainId)) throw new SignerError('chain_not_allowed');
  if (facts.amount > entry.maxValuePerTx) throw new SignerError('value_cap_exceeded');
  return entry;
}

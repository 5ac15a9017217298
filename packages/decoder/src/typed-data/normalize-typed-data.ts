import type { Address, Hex } from 'viem';
import { readAddress } from '../address.ts';
import { MAX_TYPED_DATA_DEPTH, MAX_TYPED_DATA_FIELDS, MAX_TYPED_DATA_TYPES, MAX_TYPED_DATA_VALUES } from '../limits.ts';

/** The EIP-712 domain as it is signed: only the fields present, in their normalised form. */
export interface TypedDataDomainView {
  readonly name?: string;
  readonly version?: string;
  /** A safe integer: a larger chain id is refused as malformed (no chain uses one). */
  readonly chainId?: number;
  readonly verifyingContract?: Address;
  readonly salt?: Hex;
}

export interface TypedDataField {
  readonly name: string;
  readonly type: string;
}

/** A validated, normalised copy of an EIP-712 payload: what is hashed is exactly what is described. */
export interface NormalizedTypedData {
  readonly domain: TypedDataDomainView;
  /** The struct types, without `EIP712Domain` (it is derived from the domain, and checked against it if sent). */
  readonly types: Readonly<Record<string, readonly TypedDataField[]>>;
  readonly primaryType: string;
  /** The message with integers as bigints, addresses checksummed, hex lowercased, and only the declared fields. */
  readonly message: Readonly<Record<string, unknown>>;
}

/** The payload is not well-formed EIP-712; `field` names where (`message.details[0].amount`). */
export class TypedDataError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'TypedDataError';
  }
}

// The domain fields EIP-712 defines, in the order the standard fixes for the EIP712Domain type.
const DOMAIN_FIELDS: readonly TypedDataField[] = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
  { name: 'salt', type: 'bytes32' },
];

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const INTEGER_TYPE =
  /^(u?int)(8|16|24|32|40|48|56|64|72|80|88|96|104|112|120|128|136|144|152|160|168|176|184|192|200|208|216|224|232|240|248|256)$/;
const BYTES_N = /^bytes([1-9]|[12][0-9]|3[0-2])$/;
const ARRAY_SUFFIX = /^(.+)\[([1-9][0-9]{0,3})?\]$/;
const HEX_BYTES = /^0x(?:[0-9a-fA-F]{2})*$/;
const DECIMAL = /^-?[0-9]{1,78}$/;
const HEX_INTEGER = /^0x[0-9a-fA-F]{1,64}$/;

function isAtomic(type: string): boolean {
  return (
    type === 'address' ||
    type === 'bool' ||
    type === 'string' ||
    type === 'bytes' ||
    BYTES_N.test(type) ||
    INTEGER_TYPE.test(type)
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/**
 * Validate an EIP-712 payload (an object, or the JSON text `eth_signTypedData_v4` carries) and return a normalised,
 * plain copy. Throws TypedDataError on anything malformed; nothing read from the input is trusted before this.
 *
 * Refused, among others: keys other than domain/types/primaryType/message; unknown domain fields or null values; an
 * `EIP712Domain` type that does not list exactly the domain's fields in the standard's order (a shorter one would
 * sign a domain other than the one shown); undeclared or unused-looking field types; a struct named like an atomic
 * type; missing or extra message fields; integers out of range or given as unsafe JS numbers; addresses failing
 * EIP-55; bytesN of the wrong size; nesting deeper than MAX_TYPED_DATA_DEPTH or more than MAX_TYPED_DATA_VALUES values.
 */
export function normalizeTypedData(input: unknown): NormalizedTypedData {
  let payload = input;
  if (typeof payload === 'string') {
    try {
      payload = JSON.parse(payload) as unknown;
    } catch {
      throw new TypedDataError('The typed data is not valid JSON.', '');
    }
  }
  if (!isPlainObject(payload)) throw new TypedDataError('The typed data must be an object.', '');
  for (const key of Object.keys(payload)) {
    if (!['domain', 'types', 'primaryType', 'message'].includes(key)) {
      throw new TypedDataError(`Unknown top-level key "${key.slice(0, 64)}".`, key.slice(0, 64));
    }
  }
  const types = readTypes(own(payload, 'types'));
  const domain = readDomain(own(payload, 'domain'));
  checkDomainType(own(payload, 'types') as Record<string, unknown>, domain);

  const primaryType = own(payload, 'primaryType');
  if (typeof primaryType !== 'string' || !Object.hasOwn(types, primaryType)) {
    throw new TypedDataError('primaryType must name a struct declared in types (not EIP712Domain).', 'primaryType');
  }
  const message = readStruct({ types, budget: { values: 0 } }, primaryType, own(payload, 'message'), 'message', 0);
  return { domain, types, primaryType, message };
}

function readTypes(value: unknown): Record<string, readonly TypedDataField[]> {
  if (!isPlainObject(value)) throw new TypedDataError('types must be an object.', 'types');
  const names = Object.keys(value).filter((n) => n !== 'EIP712Domain');
  if (names.length > MAX_TYPED_DATA_TYPES)
    throw new TypedDataError(`types declares more than ${MAX_TYPED_DATA_TYPES} structs.`, 'types');
  const out: Record<string, readonly TypedDataField[]> = {};
  for (const name of names) {
    if (!IDENTIFIER.test(name) || name === '__proto__' || isAtomic(name) || name === 'int' || name === 'uint') {
      throw new TypedDataError(`"${name.slice(0, 64)}" is not a valid struct name.`, `types.${name.slice(0, 64)}`);
    }
    out[name] = readFields(value[name], `types.${name}`);
  }
  for (const [name, fields] of Object.entries(out)) {
    for (const [i, field] of fields.entries()) {
      const base = field.type.replace(/(\[[0-9]*\])+$/, '');
      if (!isAtomic(base) && !Object.hasOwn(out, base)) {
        throw new TypedDataError(
          `Field type "${field.type.slice(0, 64)}" is neither an EIP-712 type nor a declared struct.`,
          `types.${name}[${i}].type`,
        );
      }
      if (!validArraySuffixes(field.type)) {
        throw new TypedDataError(
          `Field type "${field.type.slice(0, 64)}" has a malformed array suffix.`,
          `types.${name}[${i}].type`,
        );
      }
    }
  }
  return out;
}

function validArraySuffixes(type: string): boolean {
  let t = type;
  for (let match = ARRAY_SUFFIX.exec(t); match !== null; match = ARRAY_SUFFIX.exec(t)) t = match[1]!;
  return !t.includes('[') && !t.includes(']');
}

function readFields(value: unknown, where: string): readonly TypedDataField[] {
  if (!Array.isArray(value)) throw new TypedDataError(`${where} must be an array of { name, type }.`, where);
  if (value.length > MAX_TYPED_DATA_FIELDS)
    throw new TypedDataError(`${where} has more than ${MAX_TYPED_DATA_FIELDS} fields.`, where);
  const seen = new Set<string>();
  return value.map((f: unknown, i) => {
    const at = `${where}[${i}]`;
    if (!isPlainObject(f) || Object.keys(f).length !== 2 || typeof f.name !== 'string' || typeof f.type !== 'string') {
      throw new TypedDataError(`${at} must be exactly { name, type } with string values.`, at);
    }
    if (!IDENTIFIER.test(f.name) || f.name === '__proto__')
      throw new TypedDataError(`${at}.name is not a valid field name.`, `${at}.name`);
    if (seen.has(f.name)) throw new TypedDataError(`${at}.name "${f.name}" is declared twice.`, `${at}.name`);
    seen.add(f.name);
    return { name: f.name, type: f.type };
  });
}

function readDomain(value: unknown): TypedDataDomainView {
  if (!isPlainObject(value)) throw new TypedDataError('domain must be an object.', 'domain');
  const out: { -readonly [K in keyof TypedDataDomainView]: TypedDataDomainView[K] } = {};
  for (const key of Object.keys(value)) {
    if (!DOMAIN_FIELDS.some((f) => f.name === key)) {
      throw new TypedDataError(`Unknown domain field "${key.slice(0, 64)}".`, `domain.${key.slice(0, 64)}`);
    }
  }
  for (const { name } of DOMAIN_FIELDS) {
    if (!Object.hasOwn(value, name)) continue;
    const v = value[name];
    const at = `domain.${name}`;
    if (name === 'name' || name === 'version') {
      if (typeof v !== 'string') throw new TypedDataError(`${at} must be a string.`, at);
      out[name] = v;
    } else if (name === 'chainId') {
      const id = readInteger(v, 256, false, at);
      if (id > BigInt(Number.MAX_SAFE_INTEGER))
        throw new TypedDataError(`${at} is larger than any chain id this gateway accepts.`, at);
      out.chainId = Number(id);
    } else if (name === 'verifyingContract') {
      out.verifyingContract = readAddressAt(v, at);
    } else {
      if (typeof v !== 'string' || !HEX_BYTES.test(v) || v.length !== 66)
        throw new TypedDataError(`${at} must be 32 bytes of hex.`, at);
      out.salt = v.toLowerCase() as Hex;
    }
  }
  return out;
}

// If the payload declares EIP712Domain it must be exactly what the domain holds: a type that leaves a field out
// makes the signature cover a different domain than the one shown (a verifyingContract displayed but not signed).
function checkDomainType(types: Record<string, unknown>, domain: TypedDataDomainView): void {
  if (!Object.hasOwn(types, 'EIP712Domain')) return;
  const declared = readFields(types.EIP712Domain, 'types.EIP712Domain');
  const expected = DOMAIN_FIELDS.filter((f) => Object.hasOwn(domain, f.name));
  const same =
    declared.length === expected.length &&
    declared.every((f, i) => f.name === expected[i]!.name && f.type === expected[i]!.type);
  if (!same) {
    throw new TypedDataError(
      'types.EIP712Domain must list exactly the fields present in domain, in the order name, version, chainId, verifyingContract, salt.',
      'types.EIP712Domain',
    );
  }
}

/** What every step of reading one message shares: the declared struct types and the count of values read so far. */
interface MessageReading {
  readonly types: Record<string, readonly TypedDataField[]>;
  readonly budget: { values: number };
}

function readStruct(
  reading: MessageReading,
  type: string,
  value: unknown,
  at: string,
  depth: number,
): Record<string, unknown> {
  enterNested(depth, reading.budget, at);
  if (!isPlainObject(value)) throw new TypedDataError(`${at} must be an object of type ${type}.`, at);
  const fields = reading.types[type]!;
  for (const key of Object.keys(value)) {
    if (!fields.some((f) => f.name === key)) {
      throw new TypedDataError(
        `${at} has a field "${key.slice(0, 64)}" that ${type} does not declare.`,
        `${at}.${key.slice(0, 64)}`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    if (!Object.hasOwn(value, field.name))
      throw new TypedDataError(`${at}.${field.name} is missing.`, `${at}.${field.name}`);
    out[field.name] = readValue(reading, field.type, value[field.name], `${at}.${field.name}`, depth + 1);
  }
  return out;
}

/** A struct or array one level deeper: refused past MAX_TYPED_DATA_DEPTH, and counted as one value. */
function enterNested(depth: number, budget: { values: number }, at: string): void {
  if (depth >= MAX_TYPED_DATA_DEPTH)
    throw new TypedDataError(`The message nests deeper than ${MAX_TYPED_DATA_DEPTH} levels.`, at);
  count(budget, at);
}

function count(budget: { values: number }, at: string): void {
  budget.values += 1;
  if (budget.values > MAX_TYPED_DATA_VALUES)
    throw new TypedDataError(`The message holds more than ${MAX_TYPED_DATA_VALUES} values.`, at);
}

function readValue(reading: MessageReading, type: string, value: unknown, at: string, depth: number): unknown {
  const array = ARRAY_SUFFIX.exec(type);
  if (array !== null) {
    enterNested(depth, reading.budget, at);
    if (!Array.isArray(value)) throw new TypedDataError(`${at} must be an array (${type}).`, at);
    if (array[2] !== undefined && value.length !== Number(array[2])) {
      throw new TypedDataError(`${at} must hold exactly ${array[2]} items.`, at);
    }
    if (value.length > MAX_TYPED_DATA_VALUES)
      throw new TypedDataError(`The message holds more than ${MAX_TYPED_DATA_VALUES} values.`, at);
    return value.map((item: unknown, i) => readValue(reading, array[1]!, item, `${at}[${i}]`, depth + 1));
  }
  if (Object.hasOwn(reading.types, type)) return readStruct(reading, type, value, at, depth);
  count(reading.budget, at);
  if (type === 'address') {
    return readAddressAt(value, at);
  }
  if (type === 'bool') {
    if (typeof value !== 'boolean') throw new TypedDataError(`${at} must be true or false.`, at);
    return value;
  }
  if (type === 'string') {
    if (typeof value !== 'string') throw new TypedDataError(`${at} must be a string.`, at);
    return value;
  }
  if (type === 'bytes') {
    if (typeof value !== 'string' || !HEX_BYTES.test(value))
      throw new TypedDataError(`${at} must be 0x-prefixed even-length hex.`, at);
    return value.toLowerCase();
  }
  const bytesN = BYTES_N.exec(type);
  if (bytesN !== null) {
    const size = Number(bytesN[1]);
    if (typeof value !== 'string' || !HEX_BYTES.test(value) || value.length !== 2 + 2 * size) {
      throw new TypedDataError(`${at} must be exactly ${size} bytes of hex.`, at);
    }
    return value.toLowerCase();
  }
  const integer = INTEGER_TYPE.exec(type)!;
  return readInteger(value, Number(integer[2]), integer[1] === 'int', at);
}

/** The address at `at`, checksummed; refused when it is not one or fails its EIP-55 checksum. */
function readAddressAt(value: unknown, at: string): Address {
  const address = readAddress(value);
  if (address === null) throw new TypedDataError(`${at} is not an address (or fails its EIP-55 checksum).`, at);
  return address;
}

/**
 * An integer given as a bigint, a safe JS integer, a decimal string or (unsigned only) a 0x hex string. A JSON number
 * beyond 2^53 has already been rounded by the parser, so it is refused rather than signed as some nearby value.
 */
function readInteger(value: unknown, bits: number, signed: boolean, at: string): bigint {
  let n: bigint;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw new TypedDataError(`${at} is not a safe integer; send large numbers as decimal strings.`, at);
    n = BigInt(value);
  } else if (typeof value === 'string' && DECIMAL.test(value)) n = BigInt(value);
  else if (typeof value === 'string' && !signed && HEX_INTEGER.test(value)) n = BigInt(value);
  else throw new TypedDataError(`${at} must be an integer (a number, or a decimal string).`, at);
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (n < min || n > max) throw new TypedDataError(`${at} is out of range for ${signed ? 'int' : 'uint'}${bits}.`, at);
  return n;
}

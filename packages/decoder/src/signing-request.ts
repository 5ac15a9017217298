import { hexToBytes, parseTransaction, type Hex } from 'viem';
import { decodeTypedData } from './decode-typed-data.ts';
import { SIGNING_REFUSAL_CODES, type SigningRefusalCode } from './reason-codes.ts';

/**
 * A transaction as a JSON-RPC request or viem describes it. Only the fields the refusal checks read are typed; the
 * values are untrusted (hex strings, numbers or bigints).
 */
export interface TransactionLike {
  readonly type?: unknown;
  readonly chainId?: unknown;
  readonly authorizationList?: unknown;
  readonly gasPrice?: unknown;
  readonly maxFeePerGas?: unknown;
  readonly maxPriorityFeePerGas?: unknown;
  readonly accessList?: unknown;
  /** Other request fields (to, value, data, gas, nonce …) are allowed and not read here. */
  readonly [field: string]: unknown;
}

/** A request to sign something, as the gateway's RPC surface receives it. */
export type SigningRequest =
  | { readonly method: 'eth_sign' | 'personal_sign'; readonly message: string }
  /** `transaction` is a request object, or a serialized (RLP, typed-envelope) transaction as hex. */
  | {
      readonly method: 'eth_sendTransaction' | 'eth_signTransaction' | 'eth_sendRawTransaction';
      readonly transaction: TransactionLike | string;
    }
  | { readonly method: 'eth_signTypedData_v4'; readonly typedData: unknown };

export interface SigningRefusal {
  readonly code: SigningRefusalCode;
  readonly message: string;
}

const TYPES: Readonly<Record<string, 'legacy' | 'eip2930' | 'eip1559' | 'eip4844' | 'eip7702'>> = {
  legacy: 'legacy',
  '0x0': 'legacy',
  '0x00': 'legacy',
  '0': 'legacy',
  eip2930: 'eip2930',
  '0x1': 'eip2930',
  '0x01': 'eip2930',
  '1': 'eip2930',
  eip1559: 'eip1559',
  '0x2': 'eip1559',
  '0x02': 'eip1559',
  '2': 'eip1559',
  eip4844: 'eip4844',
  '0x3': 'eip4844',
  '0x03': 'eip4844',
  '3': 'eip4844',
  eip7702: 'eip7702',
  '0x4': 'eip7702',
  '0x04': 'eip7702',
  '4': 'eip7702',
};

class Unreadable extends Error {}

function refusal(code: SigningRefusalCode): SigningRefusal {
  return Object.freeze({ code, message: SIGNING_REFUSAL_CODES[code] });
}

/**
 * True when a message to sign is an opaque 32-byte value (hex of exactly 32 bytes that is not printable UTF-8 text).
 * Signing one blind is how a transaction hash, a Safe transaction hash (Safe accepts `eth_sign`-style signatures of
 * it) or an order digest gets authorised without being shown; the EIP-191 prefix of personal_sign does not help, since
 * those verifiers apply it themselves. Text, and hex that decodes to printable text, is not a raw hash.
 */
export function isRawHashMessage(message: string): boolean {
  if (typeof message !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(message)) return false;
  return !isPrintableText(hexToBytes(message as Hex));
}

function isPrintableText(bytes: Uint8Array): boolean {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return false;
  }
  // Tab, newline and carriage return are text; every other C0 control, DEL and the C1 controls are not.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(text);
}

/**
 * True when the transaction carries an EIP-7702 authorisation list (of any chain id, 0 included) or is type 4. Like
 * every predicate here it fails closed: a field it cannot read answers true.
 */
export function isEip7702Transaction(tx: TransactionLike): boolean {
  return failClosed(() => eip7702(tx));
}

function eip7702(tx: TransactionLike): boolean {
  return readType(tx) === 'eip7702' || (tx.authorizationList !== undefined && tx.authorizationList !== null);
}

function failClosed(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return true;
  }
}

/**
 * True for a legacy transaction without an EIP-155 chain id: one signed that way is valid on every chain. Legacy means
 * type 0 / `legacy`, or no type and a gasPrice without EIP-1559 fees or an access list.
 */
export function isLegacyWithoutChainId(tx: TransactionLike): boolean {
  return failClosed(() => legacyWithoutChainId(tx));
}

function legacyWithoutChainId(tx: TransactionLike): boolean {
  const type = readType(tx);
  const legacy =
    type === 'legacy' ||
    (type === undefined &&
      tx.maxFeePerGas === undefined &&
      tx.maxPriorityFeePerGas === undefined &&
      tx.accessList === undefined &&
      tx.authorizationList === undefined);
  return legacy && readChainId(tx.chainId) === undefined;
}

/**
 * True when a chain id is present and differs from the intent's. An absent chain id is not a mismatch here: the
 * gateway builds the transaction with the intent's chain id (legacy transactions without one are refused separately).
 */
export function isChainIdMismatch(chainId: unknown, intentChainId: number): boolean {
  return failClosed(() => chainIdMismatch(chainId, intentChainId));
}

function chainIdMismatch(chainId: unknown, intentChainId: number): boolean {
  const id = readChainId(chainId);
  return id !== undefined && id !== BigInt(intentChainId);
}

/**
 * The reason to refuse a signing request outright, or null when none of the chain-safety refusals applies (the
 * request still goes through decoding and policy). Checks, in order:
 * - messages (`eth_sign`, `personal_sign`): an opaque 32-byte hash → `chain.raw_hash_signing`;
 * - transactions: an EIP-7702 authorisation list → `chain.eip7702_authorization`; legacy without a chain id →
 *   `chain.legacy_transaction`; a chain id other than the intent's → `chain.chain_id_mismatch`;
 * - typed data: malformed → `chain.malformed_signing_request`; a domain chainId other than the intent's →
 *   `chain.chain_id_mismatch`; a domain without a chainId → `chain.typed_data_without_chain_id`.
 * A request that cannot be read well enough to check answers `chain.malformed_signing_request`. Never throws.
 */
export function classifySigningRequest(
  request: SigningRequest,
  intent: { readonly chainId: number },
): SigningRefusal | null {
  try {
    if (request === null || typeof request !== 'object') return refusal('chain.malformed_signing_request');
    switch (request.method) {
      case 'eth_sign':
      case 'personal_sign':
        if (typeof request.message !== 'string') return refusal('chain.malformed_signing_request');
        return isRawHashMessage(request.message) ? refusal('chain.raw_hash_signing') : null;
      case 'eth_sendTransaction':
      case 'eth_signTransaction':
      case 'eth_sendRawTransaction': {
        const tx = typeof request.transaction === 'string' ? parseSerialized(request.transaction) : request.transaction;
        if (tx === null || typeof tx !== 'object') return refusal('chain.malformed_signing_request');
        // Read every checked field first, so an unreadable one is reported as such rather than as a refusal reason.
        readType(tx);
        readChainId(tx.chainId);
        if (eip7702(tx)) return refusal('chain.eip7702_authorization');
        if (legacyWithoutChainId(tx)) return refusal('chain.legacy_transaction');
        if (chainIdMismatch(tx.chainId, intent.chainId)) return refusal('chain.chain_id_mismatch');
        return null;
      }
      case 'eth_signTypedData_v4': {
        const decoded = decodeTypedData(request.typedData);
        if (!decoded.ok) return refusal('chain.malformed_signing_request');
        if (chainIdMismatch(decoded.domain.chainId, intent.chainId)) return refusal('chain.chain_id_mismatch');
        // Valid on every chain; the gateway's intent path lets a policy rule allow a named contract (docs/signatures.md).
        if (readChainId(decoded.domain.chainId) === undefined) return refusal('chain.typed_data_without_chain_id');
        return null;
      }
      default:
        return refusal('chain.malformed_signing_request');
    }
  } catch {
    // readType/readChainId throw Unreadable on values they cannot read; anything else is unreadable too.
    return refusal('chain.malformed_signing_request');
  }
}

function parseSerialized(serialized: string): TransactionLike {
  if (!/^0x(?:[0-9a-fA-F]{2})+$/.test(serialized)) throw new Unreadable();
  const tx = parseTransaction(serialized as Hex) as Record<string, unknown>;
  return {
    type: tx.type,
    chainId: tx.chainId,
    authorizationList: tx.authorizationList,
    gasPrice: tx.gasPrice,
    maxFeePerGas: tx.maxFeePerGas,
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
    accessList: tx.accessList,
  };
}

function readType(tx: TransactionLike): (typeof TYPES)[string] | undefined {
  if (tx.type === undefined || tx.type === null) return undefined;
  const key = typeof tx.type === 'number' || typeof tx.type === 'bigint' ? String(tx.type) : tx.type;
  if (typeof key !== 'string' || !Object.hasOwn(TYPES, key.toLowerCase())) throw new Unreadable();
  return TYPES[key.toLowerCase()];
}

function readChainId(value: unknown): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'bigint' && value >= 0n) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string' && /^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/.test(value)) return BigInt(value);
  throw new Unreadable();
}

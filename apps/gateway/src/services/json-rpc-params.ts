import { formatEther, hexToBigInt, hexToBytes, isAddress, isAddressEqual, isHex, type Address, type Hex } from 'viem';
import type { ContractCallIntentBody, MessageIntentBody, TransferIntentBody } from '@clawd402/protocol';
import { StrictJsonError, parseStrictJson } from '../security/jwt-strict-json.ts';
import { rpcFailure } from './json-rpc-errors.ts';

/** A hex quantity as JSON-RPC writes it: 0x, no leading zeros (but 0x0), at most 256 bits. */
const QUANTITY = /^0x(?:0|[1-9a-fA-F][0-9a-fA-F]{0,63})$/;
/** Fields of an eth_sendTransaction object the gateway reads or knowingly ignores (fees are the gateway's). */
const TRANSACTION_FIELDS = new Set([
  'from',
  'to',
  'value',
  'data',
  'input',
  'gas',
  'gasPrice',
  'maxFeePerGas',
  'maxPriorityFeePerGas',
  'nonce',
  'type',
  'chainId',
  'accessList',
]);

/** What an eth_sendTransaction becomes: the intent body, and the gas ceiling the agent set (null: none). */
export interface TransactionRequest {
  body: TransferIntentBody | ContractCallIntentBody;
  gas: bigint | null;
  /** The call as sent, for the gas check. */
  tx: { to: Address; value: bigint; data: Hex };
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw rpcFailure('rpc_invalid_params', `${what} must be an object.`);
  return value as Record<string, unknown>;
}

export function quantity(value: unknown, field: string): bigint {
  if (typeof value !== 'string' || !QUANTITY.test(value))
    throw rpcFailure('rpc_invalid_params', `${field} must be a hex quantity such as "0x1".`, { field });
  return hexToBigInt(value as Hex);
}

export function address(value: unknown, field: string): Address {
  if (typeof value !== 'string' || !isAddress(value, { strict: false }))
    throw rpcFailure('rpc_invalid_params', `${field} must be a 20-byte hex address.`, { field });
  return value;
}

/** A `from` (or signing address) other than the agent's signer address is refused: the agent has one key. */
export function assertSigner(value: unknown, field: string, signer: Address): void {
  if (!isAddressEqual(address(value, field), signer))
    throw rpcFailure('rpc_from_mismatch', undefined, { field, signer });
}

/**
 * eth_sendTransaction's object as an intent: no calldata (absent or `0x`) is a native `transfer` of `value`; calldata
 * is a `contract_call` with `value`. `from` must be the signer, `chainId` the endpoint's; a `nonce` is refused (the
 * gateway allocates them); fee fields and `type`/`accessList` are read for shape only (fees are the gateway's);
 * `gas` is kept as a ceiling. Contract creation (no `to`) is refused.
 */
export function transactionRequest(params: readonly unknown[], chainId: number, signer: Address): TransactionRequest {
  if (params.length !== 1) throw rpcFailure('rpc_invalid_params', 'eth_sendTransaction takes one transaction object.');
  const tx = record(params[0], 'The transaction');
  for (const field of Object.keys(tx)) {
    if (!TRANSACTION_FIELDS.has(field))
      throw rpcFailure('rpc_invalid_params', `Field "${field}" is not accepted in a transaction.`, { field });
  }
  if (tx.from !== undefined) assertSigner(tx.from, 'from', signer);
  if (tx.chainId !== undefined && quantity(tx.chainId, 'chainId') !== BigInt(chainId))
    throw rpcFailure('rpc_chain_mismatch', undefined, { field: 'chainId', chainId });
  if (tx.nonce !== undefined) throw rpcFailure('rpc_nonce_unsupported', undefined, { field: 'nonce' });
  for (const field of ['gasPrice', 'maxFeePerGas', 'maxPriorityFeePerGas', 'type'] as const)
    if (tx[field] !== undefined) quantity(tx[field], field);
  if (tx.to === undefined || tx.to === null)
    throw rpcFailure('rpc_invalid_params', 'Contract creation is not supported: "to" is required.', { field: 'to' });
  const to = address(tx.to, 'to');
  const value = tx.value === undefined ? 0n : quantity(tx.value, 'value');
  if (tx.data !== undefined && tx.input !== undefined && tx.data !== tx.input)
    throw rpcFailure('rpc_invalid_params', '"data" and "input" differ.', { field: 'input' });
  const data = tx.input ?? tx.data;
  if (data !== undefined && (typeof data !== 'string' || !isHex(data, { strict: true }) || data.length % 2 !== 0))
    throw rpcFailure('rpc_invalid_params', 'data must be 0x-prefixed hex bytes.', { field: 'data' });
  const gas = tx.gas === undefined ? null : quantity(tx.gas, 'gas');
  if (data === undefined || data === '0x') {
    const body: TransferIntentBody = { type: 'transfer', chainId, to, asset: 'native', amount: formatEther(value) };
    return { body, gas, tx: { to, value, data: '0x' } };
  }
  return {
    body: { type: 'contract_call', chainId, to, data, ...(value > 0n ? { value: formatEther(value) } : {}) },
    gas,
    tx: { to, value, data: data },
  };
}

/**
 * personal_sign `[message, address]`: hex bytes (how viem and ethers send it), or text. Bytes that are printable UTF-8
 * are signed as that text (the same bytes, recorded readably); anything else as raw bytes — a bare 32-byte hash is
 * then refused by the path (`chain.raw_hash_signing`).
 */
export function messageBody(params: readonly unknown[], chainId: number, signer: Address): MessageIntentBody {
  if (params.length !== 2) throw rpcFailure('rpc_invalid_params', 'personal_sign takes [message, address].');
  assertSigner(params[1], 'address', signer);
  const message = params[0];
  if (typeof message !== 'string' || message.length === 0)
    throw rpcFailure('rpc_invalid_params', 'The message must be a non-empty string.', { field: 'message' });
  if (!isHex(message, { strict: true })) return { type: 'message', chainId, message };
  if (message.length % 2 !== 0 || message.length === 2)
    throw rpcFailure('rpc_invalid_params', 'The message must be whole bytes.', { field: 'message' });
  const text = printableUtf8(hexToBytes(message));
  return { type: 'message', chainId, message: text ?? { raw: message } };
}

function printableUtf8(bytes: Uint8Array): string | null {
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    // eslint-disable-next-line no-control-regex -- control characters mean bytes, not text
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufeff]/.test(text) ? null : text;
  } catch {
    return null;
  }
}

/** eth_signTypedData_v4 `[address, typedData]`: the typed data as a JSON string (strictly parsed) or an object. */
export function typedDataOf(params: readonly unknown[], signer: Address): unknown {
  if (params.length !== 2) throw rpcFailure('rpc_invalid_params', 'eth_signTypedData_v4 takes [address, typedData].');
  assertSigner(params[0], 'address', signer);
  const raw = params[1];
  let typedData: Record<string, unknown>;
  try {
    typedData = record(
      typeof raw === 'string' ? parseStrictJson(raw, { maxDepth: 32, refusePrototypeKeys: true }) : raw,
      'The typed data',
    );
  } catch (error) {
    if (!(error instanceof StrictJsonError)) throw error;
    throw rpcFailure('rpc_invalid_params', 'The typed data is not strict JSON (one meaning per member name).', {
      field: 'typedData',
    });
  }
  return withDecimalChainId(typedData);
}

/**
 * ethers writes the domain's chainId as a hex quantity ("0x7a69"); the signer reads a number or a decimal string.
 * The same uint256, so the same digest: rewritten as a number on a copy.
 */
function withDecimalChainId(typedData: Record<string, unknown>): Record<string, unknown> {
  const domain = typedData.domain;
  if (typeof domain !== 'object' || domain === null || Array.isArray(domain)) return typedData;
  const chainId = (domain as Record<string, unknown>).chainId;
  if (typeof chainId !== 'string' || !QUANTITY.test(chainId)) return typedData;
  const n = hexToBigInt(chainId as Hex);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return typedData;
  return { ...typedData, domain: { ...domain, chainId: Number(n) } };
}

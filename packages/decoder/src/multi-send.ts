import { getAddress, hexToBigInt, type Address, type Hex } from 'viem';
import { MalformedCallError, type CallOperation } from './call-handler.ts';

/** One transaction packed in a Safe MultiSend `transactions` argument. */
export interface MultiSendEntry {
  readonly operation: CallOperation;
  readonly to: Address;
  readonly value: bigint;
  readonly data: Hex;
}

// Each entry: operation (1 byte) ‖ to (20) ‖ value (32) ‖ data length (32) ‖ data, with no padding.
const HEADER_BYTES = 1 + 20 + 32 + 32;

/**
 * Split a MultiSend `transactions` blob into its entries. Refuses (MalformedCallError) an operation other than 0 or 1,
 * a length running past the end, and trailing bytes that do not form a whole entry, where the contract would read
 * memory beyond the blob.
 *
 * @param maxEntries stop after this many entries (the caller's node budget); `truncated` says whether more followed.
 */
export function parseMultiSend(
  transactions: Hex,
  maxEntries: number,
): { entries: MultiSendEntry[]; truncated: boolean } {
  const hex = transactions.slice(2).toLowerCase();
  const total = hex.length / 2;
  const entries: MultiSendEntry[] = [];
  let at = 0;
  while (at < total) {
    if (entries.length >= maxEntries) return { entries, truncated: true };
    if (total - at < HEADER_BYTES)
      throw new MalformedCallError(`MultiSend entry at byte ${at} is shorter than its header`);
    const byte = (offset: number, length: number): Hex =>
      `0x${hex.slice((at + offset) * 2, (at + offset + length) * 2)}`;
    const op = Number.parseInt(byte(0, 1).slice(2), 16);
    if (op !== 0 && op !== 1) throw new MalformedCallError(`MultiSend entry at byte ${at} has operation ${op}`);
    const to = getAddress(byte(1, 20));
    const value = hexToBigInt(byte(21, 32));
    const length = hexToBigInt(byte(53, 32));
    if (length > BigInt(total - at - HEADER_BYTES)) {
      throw new MalformedCallError(`MultiSend entry at byte ${at} claims more data than the blob holds`);
    }
    const n = Number(length);
    entries.push({ operation: op === 1 ? 'delegatecall' : 'call', to, value, data: byte(HEADER_BYTES, n) });
    at += HEADER_BYTES + n;
  }
  return { entries, truncated: false };
}

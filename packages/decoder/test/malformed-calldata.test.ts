// Security regressions: hostile calldata for known selectors is refused with `decode.malformed_calldata` (never read
// differently from how the contract would read it), and bad transaction fields with `decode.invalid_input`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFunctionData, erc1155Abi, erc20Abi, erc721Abi, type Hex } from 'viem';
import { decodeCall, type DecodeCallParameters } from '../src/index.ts';
import {
  ALICE,
  DEAD,
  execTransaction,
  MULTISEND,
  packMultiSend,
  ROUTER,
  SAFE,
  USDC,
  wrappersAbi,
  NFT,
} from './fixtures.ts';

const transfer = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [DEAD, 500n] });

function refused(params: DecodeCallParameters, code: string, where?: { path?: number[]; selector?: Hex }) {
  const r = decodeCall(params);
  assert.equal(r.ok, false, 'expected a refusal');
  if (r.ok) return;
  assert.equal(r.code, code, r.message);
  if (where?.path !== undefined) assert.deepEqual(r.path, where.path);
  if (where?.selector !== undefined) assert.equal(r.selector, where.selector);
}
const malformed = (to: string, data: Hex, where?: { path?: number[]; selector?: Hex }) =>
  refused({ chainId: 1, to, data }, 'decode.malformed_calldata', where);

/** Replace the 32-byte word `index` (0-based, after the selector). */
function setWord(data: Hex, index: number, word: string): Hex {
  const at = 10 + 64 * index;
  return `${data.slice(0, at)}${word.padStart(64, '0')}${data.slice(at + 64)}` as Hex;
}

describe('malformed calldata for known selectors', () => {
  it('a truncated transfer', () => {
    malformed(USDC, transfer.slice(0, 74) as Hex, { path: [], selector: '0xa9059cbb' });
    malformed(USDC, '0xa9059cbb', { selector: '0xa9059cbb' });
  });

  it('an address word with dirty high bits (the token would revert or read another address)', () => {
    malformed(USDC, setWord(transfer, 0, `ff${'0'.repeat(22)}${DEAD.slice(2).toLowerCase()}`));
  });

  it('a bool other than 0 or 1 in setApprovalForAll', () => {
    const data = encodeFunctionData({ abi: erc721Abi, functionName: 'setApprovalForAll', args: [ALICE, true] });
    malformed(NFT, setWord(data, 1, '2'));
  });

  it('ERC-1155 batch with ids and values of different lengths', () => {
    const data = encodeFunctionData({
      abi: erc1155Abi,
      functionName: 'safeBatchTransferFrom',
      args: [ALICE, DEAD, [1n, 2n], [1n], '0x'],
    });
    malformed(NFT, data);
  });

  it('a non-canonical bytes[] offset (two items sharing one tail)', () => {
    const data = encodeFunctionData({ abi: wrappersAbi, functionName: 'multicall', args: [[transfer, transfer]] });
    // Words: [0] offset of the array, [1] length 2, [2] offset of item 0, [3] offset of item 1. Point item 1 at item 0.
    const shared = setWord(data, 3, data.slice(10 + 64 * 2, 10 + 64 * 3));
    malformed(ROUTER, shared, { path: [], selector: '0xac9650d8' });
  });

  it('a malformed inner call makes the whole transaction malformed, naming where', () => {
    const data = encodeFunctionData({
      abi: wrappersAbi,
      functionName: 'multicall',
      args: [['0x12345678', transfer.slice(0, 40) as Hex]],
    });
    malformed(ROUTER, data, { path: [1], selector: '0xa9059cbb' });
    malformed(SAFE, execTransaction(ROUTER, data), { path: [0, 1] });
  });

  it('a MultiSend entry longer than the blob, a trailing partial entry, or operation 2', () => {
    const entry = { operation: 0 as const, to: USDC, value: 0n, data: transfer };
    const blob = packMultiSend([entry]);
    const send = (b: Hex) =>
      execTransaction(MULTISEND, encodeFunctionData({ abi: wrappersAbi, functionName: 'multiSend', args: [b] }), 1);
    malformed(SAFE, send(blob.slice(0, -2) as Hex), { path: [0] });
    malformed(SAFE, send(`${blob}00` as Hex), { path: [0] });
    malformed(SAFE, send(`0x02${blob.slice(4)}` as Hex), { path: [0] });
  });

  it('extra bytes after a canonical encoding are accepted, as the contract accepts them', () => {
    const r = decodeCall({ chainId: 1, to: USDC, data: `${transfer}cafe` });
    assert.equal(r.ok, true);
  });
});

describe('invalid transaction fields', () => {
  const bad = (params: Partial<DecodeCallParameters>) =>
    refused({ chainId: 1, to: USDC, data: transfer, ...params }, 'decode.invalid_input');

  it('to', () => {
    bad({ to: '0x1234' });
    bad({ to: 'A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48' });
    bad({ to: '0xa0B86991c6218b36c1d19D4a2e9Eb0cE3606eB48' }); // mixed case, wrong checksum
  });

  it('data', () => {
    bad({ data: '0xabc' });
    bad({ data: '0xzz' });
    bad({ data: 'a9059cbb' });
  });

  it('value, chainId, from', () => {
    bad({ value: -1n });
    bad({ value: 1n << 256n });
    bad({ value: 1 as unknown as bigint });
    bad({ chainId: 0 });
    bad({ chainId: 1.5 });
    bad({ from: 'nobody' });
  });

  it('not an object at all', () => {
    assert.equal(decodeCall(null as unknown as DecodeCallParameters).ok, false);
    assert.equal(decodeCall('0x' as unknown as DecodeCallParameters).ok, false);
  });
});

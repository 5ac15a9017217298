import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFunctionData, erc20Abi, type Hex } from 'viem';
import { decodeCall, MAX_CALL_DEPTH, MAX_CALL_NODES, type DecodeCallResult, type DecodedCall } from '../src/index.ts';
import {
  ALICE,
  BOB,
  DEAD,
  execTransaction,
  MAX_UINT256,
  MULTICALL3,
  MULTISEND,
  packMultiSend,
  ROUTER,
  SAFE,
  SIGNER,
  USDC,
  wrappersAbi,
} from './fixtures.ts';

const transferToDead = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [DEAD, 500n] });
const unlimitedApprove = encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [BOB, MAX_UINT256] });

function ok(result: DecodeCallResult): DecodedCall {
  assert.equal(result.ok, true, result.ok ? '' : `${result.code}: ${result.message}`);
  return result;
}
const decode = (to: string, data: Hex, value = 0n) => ok(decodeCall({ chainId: 1, to, data, value, from: SIGNER }));
const multicall = (items: Hex[]) => encodeFunctionData({ abi: wrappersAbi, functionName: 'multicall', args: [items] });

describe('decodeCall: router multicall', () => {
  it('a multicall wrapping a transfer to 0x…dEaD yields that recipient', () => {
    const r = decode(USDC, multicall([transferToDead]));
    assert.equal(r.kind, 'multicall');
    const transfer = r.effects.find((e) => e.kind === 'transfer');
    assert.ok(transfer);
    assert.equal(transfer.recipient, DEAD);
    assert.equal(transfer.amount, 500n);
    assert.equal(transfer.from, SIGNER, 'a router multicall runs each item as the original caller');
    assert.deepEqual(transfer.path, [0]);
  });

  it('the wrapper itself is a contract_call effect, before its inner calls', () => {
    const r = decode(ROUTER, multicall([transferToDead, unlimitedApprove]));
    assert.deepEqual(
      r.effects.map((e) => [e.kind, e.target, e.path]),
      [
        ['contract_call', ROUTER, []],
        ['transfer', ROUTER, [0]],
        ['approval', ROUTER, [1]],
      ],
    );
    assert.equal(r.flags.unlimitedApproval, true);
    assert.equal(r.calls.children.length, 2);
    assert.equal(r.calls.children[1]!.kind, 'token_approve');
  });

  it('multicall(deadline, bytes[]) decodes the same way', () => {
    const data = encodeFunctionData({ abi: wrappersAbi, functionName: 'multicall', args: [123n, [transferToDead]] });
    const r = decode(USDC, data);
    assert.equal(r.selector, '0x5ae401dc');
    assert.equal(r.effects.find((e) => e.kind === 'transfer')?.recipient, DEAD);
  });

  it('msg.value is counted once, on the wrapper', () => {
    const r = decode(ROUTER, multicall(['0x12345678', '0x12345678']), 7n);
    assert.deepEqual(
      r.effects.filter((e) => e.kind === 'native_transfer').map((e) => [e.amount, e.path]),
      [[7n, []]],
    );
  });
});

describe('decodeCall: Multicall3', () => {
  it('aggregate3: each inner call is made by the Multicall3 contract', () => {
    const data = encodeFunctionData({
      abi: wrappersAbi,
      functionName: 'aggregate3',
      args: [[{ target: USDC, allowFailure: false, callData: transferToDead }]],
    });
    const r = decode(MULTICALL3, data);
    assert.equal(r.kind, 'multicall3');
    const transfer = r.effects.find((e) => e.kind === 'transfer')!;
    assert.deepEqual(
      [transfer.asset, transfer.from, transfer.recipient, transfer.amount],
      [USDC, MULTICALL3, DEAD, 500n],
    );
    assert.equal(r.calls.children[0]!.sender, MULTICALL3);
  });

  it('aggregate, tryAggregate', () => {
    const agg = decode(
      MULTICALL3,
      encodeFunctionData({
        abi: wrappersAbi,
        functionName: 'aggregate',
        args: [[{ target: USDC, callData: unlimitedApprove }]],
      }),
    );
    assert.equal(agg.flags.unlimitedApproval, true);
    const tryAgg = decode(
      MULTICALL3,
      encodeFunctionData({
        abi: wrappersAbi,
        functionName: 'tryAggregate',
        args: [false, [{ target: USDC, callData: transferToDead }]],
      }),
    );
    assert.equal(tryAgg.effects.find((e) => e.kind === 'transfer')?.recipient, DEAD);
  });

  it('aggregate3Value: each inner call carries its own value', () => {
    const data = encodeFunctionData({
      abi: wrappersAbi,
      functionName: 'aggregate3Value',
      args: [
        [
          { target: ALICE, allowFailure: false, value: 3n, callData: '0x' },
          { target: BOB, allowFailure: true, value: 4n, callData: '0x' },
        ],
      ],
    });
    const r = decode(MULTICALL3, data, 7n);
    assert.deepEqual(
      r.effects.filter((e) => e.kind === 'native_transfer').map((e) => [e.from, e.recipient, e.amount]),
      [
        [SIGNER, MULTICALL3, 7n],
        [MULTICALL3, ALICE, 3n],
        [MULTICALL3, BOB, 4n],
      ],
    );
  });
});

describe('decodeCall: Safe', () => {
  it('execTransaction (call) decodes the inner call, made by the Safe', () => {
    const r = decode(SAFE, execTransaction(USDC, transferToDead));
    assert.equal(r.kind, 'safe_exec_transaction');
    assert.equal(r.flags.delegatecall, false);
    const transfer = r.effects.find((e) => e.kind === 'transfer')!;
    assert.deepEqual([transfer.asset, transfer.from, transfer.recipient], [USDC, SAFE, DEAD]);
  });

  it('nested multicall inside a Safe is opened all the way down', () => {
    const r = decode(SAFE, execTransaction(ROUTER, multicall([multicall([transferToDead])])));
    const transfer = r.effects.find((e) => e.kind === 'transfer')!;
    assert.deepEqual(
      [transfer.recipient, transfer.amount, transfer.from, transfer.path],
      [DEAD, 500n, SAFE, [0, 0, 0]],
    );
    assert.deepEqual(
      [
        r.calls.kind,
        r.calls.children[0]!.kind,
        r.calls.children[0]!.children[0]!.kind,
        r.calls.children[0]!.children[0]!.children[0]!.kind,
      ],
      ['safe_exec_transaction', 'multicall', 'multicall', 'erc20_transfer'],
    );
  });

  it('operation 1 is a delegatecall: flagged, with its own effect, and the inner call decoded', () => {
    const r = decode(SAFE, execTransaction(USDC, unlimitedApprove, 1));
    assert.equal(r.flags.delegatecall, true);
    const delegate = r.effects.find((e) => e.kind === 'delegatecall')!;
    assert.equal(delegate.target, USDC);
    assert.equal(delegate.selector, '0x095ea7b3');
    assert.equal(r.calls.children[0]!.operation, 'delegatecall');
    assert.equal(r.calls.children[0]!.self, SAFE);
    assert.equal(r.calls.children[0]!.kind, 'token_approve');
    assert.equal(r.flags.unlimitedApproval, true);
  });

  it('a delegatecall to MultiSend runs each packed entry as the Safe', () => {
    const blob = packMultiSend([
      { operation: 0, to: USDC, value: 0n, data: transferToDead },
      { operation: 0, to: ALICE, value: 9n, data: '0x' },
    ]);
    const multiSend = encodeFunctionData({ abi: wrappersAbi, functionName: 'multiSend', args: [blob] });
    const r = decode(SAFE, execTransaction(MULTISEND, multiSend, 1));
    assert.equal(r.flags.delegatecall, true);
    const multi = r.calls.children[0]!;
    assert.equal(multi.kind, 'safe_multi_send');
    assert.deepEqual(
      multi.children.map((c) => [c.kind, c.sender, c.target]),
      [
        ['erc20_transfer', SAFE, USDC],
        ['native_transfer', SAFE, ALICE],
      ],
    );
    assert.deepEqual(
      r.effects
        .filter((e) => e.kind === 'transfer' || e.kind === 'native_transfer')
        .map((e) => [e.kind, e.from, e.recipient, e.amount]),
      [
        ['transfer', SAFE, DEAD, 500n],
        ['native_transfer', SAFE, ALICE, 9n],
      ],
    );
  });

  it('a gas refund paid by the Safe is a transfer with no known amount', () => {
    const data = execTransaction(USDC, transferToDead, 0, 0n, { gasPrice: 1n, gasToken: USDC, refundReceiver: BOB });
    const refund = decode(SAFE, data).effects.find((e) => e.kind === 'transfer' && e.path.length === 0)!;
    assert.deepEqual([refund.asset, refund.from, refund.recipient, refund.amount], [USDC, SAFE, BOB, undefined]);
  });

  it('an operation other than 0 or 1 is malformed', () => {
    const data = execTransaction(USDC, transferToDead);
    // operation is the 4th word after the selector
    const at = 10 + 64 * 3;
    const bad = `${data.slice(0, at)}${'0'.repeat(63)}2${data.slice(at + 64)}` as Hex;
    const r = decodeCall({ chainId: 1, to: SAFE, data: bad });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, 'decode.malformed_calldata');
  });
});

describe('decodeCall: bounds', () => {
  it(`a depth bomb (multicall nested ${MAX_CALL_DEPTH + 5} deep) is truncated, not followed`, () => {
    let data: Hex = transferToDead;
    for (let i = 0; i < MAX_CALL_DEPTH + 5; i++) data = multicall([data]);
    const r = decode(ROUTER, data);
    assert.equal(r.flags.truncated, true);
    assert.equal(
      r.effects.some((e) => e.kind === 'transfer'),
      false,
      'nothing below the depth limit is reported as decoded',
    );
    let node = r.calls;
    let depth = 0;
    while (node.children.length > 0) {
      node = node.children[0]!;
      depth += 1;
    }
    assert.equal(depth, MAX_CALL_DEPTH + 1);
    assert.equal(node.kind, 'truncated');
  });

  it(`nesting exactly ${MAX_CALL_DEPTH} deep is decoded in full`, () => {
    let data: Hex = transferToDead;
    for (let i = 0; i < MAX_CALL_DEPTH; i++) data = multicall([data]);
    const r = decode(ROUTER, data);
    assert.equal(r.flags.truncated, false);
    assert.equal(r.effects.find((e) => e.kind === 'transfer')?.recipient, DEAD);
  });

  it(`more than ${MAX_CALL_NODES} calls are truncated`, () => {
    const r = decode(ROUTER, multicall(Array.from({ length: MAX_CALL_NODES + 10 }, () => transferToDead)));
    assert.equal(r.flags.truncated, true);
    assert.equal(r.calls.children.length, MAX_CALL_NODES - 1);
  });

  it(`exactly ${MAX_CALL_NODES} nodes are not truncated`, () => {
    const r = decode(ROUTER, multicall(Array.from({ length: MAX_CALL_NODES - 1 }, () => transferToDead)));
    assert.equal(r.flags.truncated, false);
    assert.equal(r.effects.filter((e) => e.kind === 'transfer').length, MAX_CALL_NODES - 1);
  });
});

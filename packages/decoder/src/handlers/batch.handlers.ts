import { zeroAddress, type Address, type Hex } from 'viem';
import {
  defineHandler,
  MalformedCallError,
  type CallContext,
  type CallHandler,
  type EffectDraft,
  type InnerCall,
} from '../call-handler.ts';
import { parseMultiSend } from '../multi-send.ts';
import { MAX_CALL_NODES } from '../limits.ts';
import {
  MULTICALL3_AGGREGATE,
  MULTICALL3_AGGREGATE3,
  MULTICALL3_AGGREGATE3_VALUE,
  MULTICALL3_BLOCK_AND_AGGREGATE,
  MULTICALL3_TRY_AGGREGATE,
  MULTICALL3_TRY_BLOCK_AND_AGGREGATE,
  MULTICALL_BLOCKHASH,
  MULTICALL_BYTES,
  MULTICALL_DEADLINE,
  SAFE_EXEC_TRANSACTION,
  SAFE_MULTI_SEND,
} from '../abi/batch.abi.ts';

// Router multicall: each item is delegatecalled on the router itself, so it runs exactly as if the caller had
// called the router with that data (same msg.sender, same storage). msg.value is shared, not split: the items carry 0
// and the wrapper's own native_transfer effect counts the value once.
function selfCalls(items: readonly Hex[], ctx: CallContext): InnerCall[] {
  return items.map((data) => ({
    operation: 'call',
    target: ctx.target,
    self: ctx.self,
    sender: ctx.sender,
    value: 0n,
    data,
  }));
}

// Multicall3: each item is a call made by the Multicall3 contract (msg.sender is Multicall3, not the signer).
function callsFrom(
  ctx: CallContext,
  calls: readonly { target: Address; callData: Hex; value?: bigint }[],
): InnerCall[] {
  return calls.map((c) => ({
    operation: 'call',
    target: c.target,
    self: c.target,
    sender: ctx.self,
    value: c.value ?? 0n,
    data: c.callData,
  }));
}

const routerMulticall = (item: typeof MULTICALL_BYTES, dataIndex: number) =>
  defineHandler({ kind: 'multicall', item, inner: (args, ctx) => selfCalls(args[dataIndex] as readonly Hex[], ctx) });

const multicall3 = (item: typeof MULTICALL_BYTES, callsIndex: number) =>
  defineHandler({
    kind: 'multicall3',
    item,
    inner: (args, ctx) =>
      callsFrom(ctx, args[callsIndex] as readonly { target: Address; callData: Hex; value?: bigint }[]),
  });

/** Router multicall, Multicall3, Safe execTransaction and Safe MultiSend. */
export const BATCH_HANDLERS: readonly CallHandler[] = [
  routerMulticall(MULTICALL_BYTES, 0),
  routerMulticall(MULTICALL_DEADLINE, 1),
  routerMulticall(MULTICALL_BLOCKHASH, 1),
  multicall3(MULTICALL3_AGGREGATE, 0),
  multicall3(MULTICALL3_TRY_AGGREGATE, 1),
  multicall3(MULTICALL3_BLOCK_AND_AGGREGATE, 0),
  multicall3(MULTICALL3_TRY_BLOCK_AND_AGGREGATE, 1),
  multicall3(MULTICALL3_AGGREGATE3, 0),
  multicall3(MULTICALL3_AGGREGATE3_VALUE, 0),
  defineHandler({
    kind: 'safe_exec_transaction',
    item: SAFE_EXEC_TRANSACTION,
    // The Safe may refund the executor's gas out of its own funds: (gasUsed + baseGas) * gasPrice of gasToken (the
    // native coin when zero) to refundReceiver (tx.origin when zero). The amount is not known before execution, so
    // the effect has none, and a policy limit on it fails closed.
    effects: (args, ctx) => {
      const [, , , , , , gasPrice, gasToken, refundReceiver] = args as [
        Address,
        bigint,
        Hex,
        number,
        bigint,
        bigint,
        bigint,
        Address,
        Address,
        Hex,
      ];
      if (gasPrice === 0n) return [];
      const recipient = refundReceiver === zeroAddress ? undefined : refundReceiver;
      const refund: EffectDraft =
        gasToken === zeroAddress
          ? { kind: 'native_transfer', asset: 'native', from: ctx.self, recipient }
          : { kind: 'transfer', asset: gasToken, target: gasToken, from: ctx.self, recipient, standard: 'erc20' };
      return [refund];
    },
    inner: (args, ctx) => {
      const [to, value, data, operation] = args as [Address, bigint, Hex, number];
      // Enum.Operation has two members; any other value reverts in the Safe.
      if (operation !== 0 && operation !== 1)
        throw new MalformedCallError(`Safe operation ${operation} is neither call (0) nor delegatecall (1)`);
      return [
        operation === 1
          ? // A delegatecall runs `to`'s code as the Safe itself: msg.sender stays the executor, storage is the Safe's.
            { operation: 'delegatecall', target: to, self: ctx.self, sender: ctx.sender, value: 0n, data }
          : { operation: 'call', target: to, self: to, sender: ctx.self, value, data },
      ];
    },
  }),
  defineHandler({
    kind: 'safe_multi_send',
    item: SAFE_MULTI_SEND,
    inner: (args, ctx) => {
      const [transactions] = args as [Hex];
      // Entries past the node budget are dropped by the decoder (and flagged); parse at most one more than fits.
      const { entries } = parseMultiSend(transactions, MAX_CALL_NODES);
      return entries.map((e) =>
        e.operation === 'delegatecall'
          ? { operation: 'delegatecall', target: e.to, self: ctx.self, sender: ctx.sender, value: 0n, data: e.data }
          : { operation: 'call', target: e.to, self: e.to, sender: ctx.self, value: e.value, data: e.data },
      );
    },
  }),
];

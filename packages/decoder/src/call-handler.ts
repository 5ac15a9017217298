import { toFunctionSelector, toFunctionSignature, type AbiFunction, type Address, type Hex } from 'viem';
import type { Effect } from './effect.ts';

/** What a call node is, by its selector (the root's kind is the result's `kind`). */
export const CALL_KINDS = [
  'native_transfer',
  'erc20_transfer',
  'token_transfer_from',
  'token_approve',
  'erc20_increase_allowance',
  'erc721_safe_transfer',
  'set_approval_for_all',
  'erc1155_transfer',
  'erc1155_batch_transfer',
  'erc20_permit',
  'dai_permit',
  'erc3009_transfer',
  'permit2_approve',
  'permit2_permit',
  'permit2_permit_batch',
  'permit2_transfer_from',
  'permit2_transfer_from_batch',
  'permit2_permit_transfer_from',
  'permit2_permit_batch_transfer_from',
  'permit2_permit_witness_transfer_from',
  'permit2_permit_batch_witness_transfer_from',
  'permit2_lockdown',
  'multicall',
  'multicall3',
  'safe_exec_transaction',
  'safe_multi_send',
  'unknown_call',
  'truncated',
] as const;

export type CallKind = (typeof CALL_KINDS)[number];

/** How a call runs: `delegatecall` runs the target's code with the caller's storage, balance and identity. */
export type CallOperation = 'call' | 'delegatecall';

/** Where a call runs, as a handler sees it. */
export interface CallContext {
  /** The contract whose code runs. */
  readonly target: Address;
  /** `address(this)` while it runs: the target for a call, the caller's own address for a delegatecall. */
  readonly self: Address;
  /** `msg.sender`; unknown for the root unless the caller said who sends the transaction. */
  readonly sender: Address | undefined;
  readonly value: bigint;
  readonly operation: CallOperation;
}

/** An effect as a handler returns it; the decoder adds `path`, `selector` and (by default) `target`. */
export type EffectDraft = Omit<Effect, 'path' | 'selector' | 'target'> & { readonly target?: Address };

/** An inner call a batch wrapper makes. */
export interface InnerCall {
  readonly operation: CallOperation;
  readonly target: Address;
  readonly self: Address;
  readonly sender: Address | undefined;
  readonly value: bigint;
  readonly data: Hex;
}

/** How one known function is read: its ABI item, the kind of node, its own effects, and the calls it makes. */
export interface CallHandler {
  readonly kind: CallKind;
  readonly item: AbiFunction;
  readonly selector: Hex;
  /** `name(type,…)`, for messages. */
  readonly signature: string;
  /** Effects of this call itself (transfers, approvals, permits). */
  readonly effects?: (args: readonly unknown[], ctx: CallContext) => EffectDraft[];
  /** Calls this call makes (batch wrappers). A handler with `inner` also gets a `contract_call` effect for itself. */
  readonly inner?: (args: readonly unknown[], ctx: CallContext) => InnerCall[];
}

/**
 * Calldata for a known selector that the contract would reject or read differently than the decoder (mismatched
 * array lengths, an unknown Safe operation, a truncated MultiSend entry). Caught by `decodeCall`, never escapes.
 */
export class MalformedCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedCallError';
  }
}

export function defineHandler(handler: Omit<CallHandler, 'selector' | 'signature'>): CallHandler {
  return Object.freeze({
    ...handler,
    selector: toFunctionSelector(handler.item),
    signature: toFunctionSignature(handler.item),
  });
}

/** One function of an ABI by name and number of inputs (so overloads can be told apart). */
export function pickFunction(abi: readonly unknown[], name: string, inputs: number): AbiFunction {
  const item = abi.find(
    (x): x is AbiFunction =>
      typeof x === 'object' &&
      x !== null &&
      (x as AbiFunction).type === 'function' &&
      (x as AbiFunction).name === name &&
      (x as AbiFunction).inputs.length === inputs,
  );
  if (item === undefined) throw new Error(`ABI has no function ${name} with ${inputs} inputs`);
  return item;
}

import { decodeAbiParameters, encodeAbiParameters, type Address, type Hex } from 'viem';
import { readAddress } from './address.ts';
import {
  MalformedCallError,
  type CallContext,
  type CallHandler,
  type CallKind,
  type CallOperation,
  type EffectDraft,
  type InnerCall,
} from './call-handler.ts';
import { hasUnlimitedApproval, type Effect } from './effect.ts';
import { deepFreeze } from '@clawd402/protocol';
import { withoutUndefined } from './freeze.ts';
import { CALL_HANDLERS } from './handlers/registry.ts';
import { MAX_CALL_DEPTH, MAX_CALL_NODES } from './limits.ts';
import { DECODE_ERROR_CODES, type DecodeErrorCode } from './reason-codes.ts';

/** A transaction to decode. Fields are checked: this is the boundary where untrusted input enters the package. */
export interface DecodeCallParameters {
  /** EIP-155 chain id the transaction is for (recorded in the result). */
  chainId: number;
  /** The called address. */
  to: string;
  /** Wei sent with the call; absent means 0. */
  value?: bigint;
  /** Calldata; absent means `0x`. */
  data?: string;
  /** Who sends the transaction, when known; it becomes the `from` of effects that move the sender's own assets. */
  from?: string;
}

/** One call in the decoded tree: the root is the transaction itself, children are the calls a wrapper makes. */
export interface DecodedCallNode {
  /** Child indices from the root (`[]` is the root). */
  readonly path: readonly number[];
  readonly operation: CallOperation;
  /** `msg.sender` of this call; absent for the root unless `from` was given. */
  readonly sender?: Address;
  /** The contract whose code runs. */
  readonly target: Address;
  /** `address(this)` while it runs: the target for a call, the delegating account for a delegatecall. */
  readonly self: Address;
  readonly value: bigint;
  /** First four bytes of the data, lowercase; null when the data is shorter than a selector. */
  readonly selector: Hex | null;
  readonly kind: CallKind;
  readonly functionName?: string;
  /** Decoded arguments as viem returns them (bigints, checksummed addresses, objects for tuples). */
  readonly args?: readonly unknown[];
  readonly children: readonly DecodedCallNode[];
}

export interface DecodeCallFlags {
  /** Some call in the tree is a delegatecall (Safe operation 1): another contract's code runs as the account. */
  readonly delegatecall: boolean;
  /** Some approval, approval_for_all or permit effect is unlimited. */
  readonly unlimitedApproval: boolean;
  /** The tree hit MAX_CALL_DEPTH or MAX_CALL_NODES: effects are incomplete and the result must be treated as unknown. */
  readonly truncated: boolean;
}

/** What a transaction really does. */
export interface DecodedCall {
  readonly ok: true;
  readonly chainId: number;
  /** The root's selector. */
  readonly selector: Hex | null;
  /** The root's function name, when the selector is known. */
  readonly functionName?: string;
  /** The root's kind. */
  readonly kind: CallKind;
  /** Every effect of every call in the tree, in call order (a wrapper's own effects before its inner calls'). */
  readonly effects: readonly Effect[];
  readonly calls: DecodedCallNode;
  readonly flags: DecodeCallFlags;
}

/** The input was not a transaction, or calldata with a known selector did not decode. Never thrown; returned. */
export interface DecodeFailure {
  readonly ok: false;
  readonly code: DecodeErrorCode;
  readonly message: string;
  /** For malformed calldata: where in the call tree, and the selector that failed. */
  readonly path?: readonly number[];
  readonly selector?: Hex;
}

export type DecodeCallResult = DecodedCall | DecodeFailure;

const HEX = /^0x(?:[0-9a-fA-F]{2})*$/;
const MAX_UINT256 = (1n << 256n) - 1n;

class MalformedAt extends Error {
  constructor(
    message: string,
    readonly path: readonly number[],
    readonly selector: Hex,
  ) {
    super(message);
  }
}

interface DecodeState {
  nodes: number;
  truncated: boolean;
  delegatecall: boolean;
  readonly effects: Effect[];
}

/**
 * Decode what a transaction does: its call tree (batch wrappers opened recursively) and a flat list of effects that
 * policy must see. Pure; never throws for any input.
 *
 * - Unknown selector → `unknown_call` node and a `contract_call` effect carrying the selector.
 * - Known selector whose data does not decode, or is not the canonical ABI encoding → `decode.malformed_calldata`.
 * - Deeper than MAX_CALL_DEPTH or more than MAX_CALL_NODES calls → `flags.truncated`: treat the result as unknown.
 *
 * @example
 * const r = decodeCall({ chainId: 1, to: usdc, data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [bob, 5n] }) });
 * if (r.ok) r.effects[0] // { kind: 'transfer', asset: usdc, recipient: bob, amount: 5n, … }
 */
export function decodeCall(parameters: DecodeCallParameters): DecodeCallResult {
  try {
    const input = readInput(parameters);
    if (typeof input === 'string') return failure('decode.invalid_input', input);
    const state: DecodeState = { nodes: 0, truncated: false, delegatecall: false, effects: [] };
    const root = decodeNode(
      { operation: 'call', target: input.to, self: input.to, sender: input.from, value: input.value, data: input.data },
      [],
      0,
      state,
    );
    return deepFreeze(
      withoutUndefined({
        ok: true as const,
        chainId: input.chainId,
        selector: root.selector,
        functionName: root.functionName,
        kind: root.kind,
        effects: state.effects,
        calls: root,
        flags: {
          delegatecall: state.delegatecall,
          unlimitedApproval: hasUnlimitedApproval(state.effects),
          truncated: state.truncated,
        },
      }),
    );
  } catch (error) {
    if (error instanceof MalformedAt) {
      return failure('decode.malformed_calldata', error.message, { path: error.path, selector: error.selector });
    }
    // Nothing else is expected to throw; if something does, the answer is still a refusal, not an exception.
    return failure('decode.malformed_calldata', DECODE_ERROR_CODES['decode.malformed_calldata']);
  }
}

function failure(
  code: DecodeErrorCode,
  message: string,
  where: { path?: readonly number[]; selector?: Hex } = {},
): DecodeFailure {
  return deepFreeze({ ok: false as const, code, message, ...where });
}

function readInput(
  p: DecodeCallParameters,
): { chainId: number; to: Address; from: Address | undefined; value: bigint; data: Hex } | string {
  if (p === null || typeof p !== 'object') return 'The transaction must be an object.';
  if (!Number.isSafeInteger(p.chainId) || p.chainId < 1) return 'chainId must be a positive integer.';
  const to = readAddress(p.to);
  if (to === null) return 'to is not an address (or fails its EIP-55 checksum).';
  let from: Address | undefined;
  if (p.from !== undefined) {
    const parsed = readAddress(p.from);
    if (parsed === null) return 'from is not an address (or fails its EIP-55 checksum).';
    from = parsed;
  }
  const value = p.value ?? 0n;
  if (typeof value !== 'bigint' || value < 0n || value > MAX_UINT256)
    return 'value must be a bigint from 0 to 2^256 - 1.';
  const data = p.data ?? '0x';
  if (typeof data !== 'string' || !HEX.test(data)) return 'data must be an even-length 0x-prefixed hex string.';
  return { chainId: p.chainId, to, from, value, data: data.toLowerCase() as Hex };
}

function decodeNode(call: InnerCall, path: readonly number[], depth: number, state: DecodeState): DecodedCallNode {
  state.nodes += 1;
  const data = call.data.toLowerCase() as Hex;
  const selector = data.length >= 10 ? (data.slice(0, 10) as Hex) : null;
  const ctx: CallContext = {
    target: call.target,
    self: call.self,
    sender: call.sender,
    value: call.value,
    operation: call.operation,
  };
  const push = (draft: EffectDraft) =>
    state.effects.push(
      withoutUndefined({ ...draft, target: draft.target ?? call.target, selector: selector ?? undefined, path }),
    );
  const node = (
    kind: CallKind,
    extra: { functionName?: string; args?: readonly unknown[]; children?: DecodedCallNode[] } = {},
  ) =>
    withoutUndefined({
      path,
      operation: call.operation,
      sender: call.sender,
      target: call.target,
      self: call.self,
      value: call.value,
      selector,
      kind,
      functionName: extra.functionName,
      args: extra.args,
      children: extra.children ?? [],
    }) as DecodedCallNode;
  const contractCall = () => push({ kind: 'contract_call', asset: call.target, from: call.sender });

  // What every call does before its own function runs: a delegatecall hands the account to the target's code; a call
  // with value (or with no data at all) pays the target.
  if (call.operation === 'delegatecall') {
    state.delegatecall = true;
    push({ kind: 'delegatecall', asset: call.target, from: call.sender });
  } else if (call.value > 0n || data === '0x') {
    push({ kind: 'native_transfer', asset: 'native', from: call.sender, recipient: call.target, amount: call.value });
  }
  if (data === '0x') return node(call.operation === 'call' ? 'native_transfer' : 'unknown_call');

  if (depth > MAX_CALL_DEPTH) {
    state.truncated = true;
    if (call.operation === 'call') contractCall();
    return node('truncated');
  }
  const handler = selector === null ? undefined : CALL_HANDLERS.get(selector);
  if (handler === undefined || selector === null) {
    if (call.operation === 'call') contractCall();
    return node('unknown_call');
  }

  const args = decodeArguments(handler, data, path, selector);
  let own: EffectDraft[];
  let inner: InnerCall[];
  try {
    own = handler.effects?.(args, ctx) ?? [];
    inner = handler.inner?.(args, ctx) ?? [];
  } catch (error) {
    if (error instanceof MalformedCallError)
      throw new MalformedAt(`${handler.item.name}: ${error.message}.`, path, selector);
    throw error;
  }
  // A wrapper is itself a call to a contract, and so is a known function with no effect of its own.
  if (call.operation === 'call' && (handler.inner !== undefined || own.length === 0)) contractCall();
  own.forEach(push);

  const children: DecodedCallNode[] = [];
  for (const [i, child] of inner.entries()) {
    if (state.nodes >= MAX_CALL_NODES) {
      state.truncated = true;
      break;
    }
    children.push(decodeNode(child, [...path, i], depth + 1, state));
  }
  return node(handler.kind, { functionName: handler.item.name, args, children });
}

function decodeArguments(handler: CallHandler, data: Hex, path: readonly number[], selector: Hex): readonly unknown[] {
  const { signature } = handler;
  const body: Hex = `0x${data.slice(10)}`;
  let args: readonly unknown[];
  try {
    args = decodeAbiParameters(handler.item.inputs, body);
  } catch {
    throw new MalformedAt(`The calldata does not decode as ${signature}.`, path, selector);
  }
  // Accept only the canonical encoding (what every ABI encoder produces), optionally followed by extra bytes. This
  // refuses dirty high bits (a uint160 or address word with bits a Solidity 0.8 contract would reject or mask),
  // booleans other than 0/1, and overlapping or out-of-order offsets that different decoders read differently.
  let canonical: Hex;
  try {
    canonical = encodeAbiParameters(handler.item.inputs, args as unknown[]);
  } catch {
    throw new MalformedAt(`The calldata for ${signature} holds a value out of its type's range.`, path, selector);
  }
  if (!body.startsWith(canonical.toLowerCase())) {
    throw new MalformedAt(`The calldata for ${signature} is not its canonical ABI encoding.`, path, selector);
  }
  return args;
}

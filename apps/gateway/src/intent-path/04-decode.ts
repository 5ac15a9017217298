import type { Address, Hex } from 'viem';
import { decodeCall, type DecodedCall, type DecodedCallNode, type Effect } from '@clawd402/decoder';
import type { IntentFacts } from '@clawd402/policy';
import { Clawd402Error } from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { VerifiedContracts } from '../chain/verified-contracts.ts';
import type { NormalizedIntent } from '../domain/intent.ts';

const NATIVE_DECIMALS = 18;
const WRAPPER_KINDS = new Set([
  'multicall',
  'multicall3',
  'safe_exec_transaction',
  'safe_multi_send',
  'permit2_lockdown',
]);

/** One asset key: 'native', a token, or `token#id` for one NFT / ERC-1155 id. */
export type FlowKey = string;

export interface DeclaredOutflow {
  amount: bigint;
  /** Who may receive it; null: anyone (the pool of a swap). */
  recipients: Set<Address> | null;
}

/** What decoding found: the call tree of a contract call (null for transfers and swaps) and what may leave the signer. */
export interface Decoded {
  readonly call: DecodedCall | null;
  readonly declared: Map<FlowKey, DeclaredOutflow>;
}

/**
 * Stage 4 — decode (docs/decoding.md). A contract call is decoded with `@clawd402/decoder`: multicall, Multicall3 and
 * Safe batches opened; malformed calldata refused (`calldata_malformed`), a truncated tree refused as unknown
 * (`calldata_too_complex`). Whatever the type, the result lists what the intent declares may leave the signer, per
 * asset, which the simulation holds it to. Pure: reads nothing.
 */
export function decode(intent: NormalizedIntent, from: Address): Decoded {
  const call = intent.type === 'contract_call' ? decodeIntentCall(intent, from) : null;
  return { call, declared: declaredFlows(intent, call, from) };
}

/** Decode a contract call; malformed calldata and truncated trees are refused. */
function decodeIntentCall(intent: NormalizedIntent, from: Address): DecodedCall {
  const result = decodeCall({
    chainId: intent.chainId,
    to: intent.call.to,
    value: intent.call.value,
    data: intent.call.data,
    from,
  });
  if (!result.ok) {
    throw new Clawd402Error('calldata_malformed', result.message, {
      details: {
        field: 'data',
        ...(result.path ? { path: [...result.path] } : {}),
        ...(result.selector ? { selector: result.selector } : {}),
      },
    });
  }
  if (result.flags.truncated) {
    throw new Clawd402Error(
      'calldata_too_complex',
      'The call nests deeper or wider than the decoder follows, so what it does is unknown; refused.',
      { details: { field: 'data' } },
    );
  }
  return result;
}

/** What the intent says may leave the signer, per asset key. */
function declaredFlows(
  intent: NormalizedIntent,
  decoded: DecodedCall | null,
  from: Address,
): Map<FlowKey, DeclaredOutflow> {
  const declared = new Map<FlowKey, DeclaredOutflow>();
  const add = (key: FlowKey, amount: bigint, recipient: Address | null): void => {
    const entry = declared.get(key) ?? { amount: 0n, recipients: new Set<Address>() };
    entry.amount += amount;
    if (recipient === null) entry.recipients = null;
    else entry.recipients?.add(recipient);
    declared.set(key, entry);
  };
  // Native coin leaves an account only as the transaction's own value.
  if (intent.call.value > 0n) add('native', intent.call.value, intent.call.to);
  if (intent.type === 'transfer' && intent.asset !== 'native') add(intent.asset, intent.amount, intent.recipient);
  if (intent.swap && intent.swap.inputAsset !== 'native') add(intent.swap.inputAsset, intent.swap.inputAmount, null);
  for (const effect of decoded?.effects ?? []) {
    if (effect.kind !== 'transfer' || effect.from !== from || effect.recipient === undefined) continue;
    const asset = effect.asset as Address;
    if (effect.standard === 'erc721' && effect.tokenId !== undefined)
      add(flowKey(asset, effect.tokenId), 1n, effect.recipient);
    else if (effect.standard === 'erc1155' && effect.tokenId !== undefined && effect.amount !== undefined)
      add(flowKey(asset, effect.tokenId), effect.amount, effect.recipient);
    else if (effect.amount !== undefined) {
      add(asset, effect.amount, effect.recipient);
      // transferFrom(address,address,uint256) is ERC-20 or ERC-721: the uint256 may be a token id.
      if (effect.standard === 'erc20_or_erc721') add(flowKey(asset, effect.amount), 1n, effect.recipient);
    }
  }
  return declared;
}

export function flowKey(asset: 'native' | Address, tokenId?: bigint): FlowKey {
  return tokenId === undefined ? asset : `${asset}#${tokenId}`;
}

/** A declared token outflow whose balance can be read with ERC-20 balanceOf before simulating. */
export function isFungibleToken(intent: NormalizedIntent, decoded: DecodedCall | null, asset: Address): boolean {
  if (intent.type === 'transfer' || intent.swap) return true;
  return (decoded?.effects ?? []).some((e) => e.kind === 'transfer' && e.asset === asset && e.standard === 'erc20');
}

function findNode(root: DecodedCallNode, path: readonly number[]): DecodedCallNode | null {
  let node: DecodedCallNode | undefined = root;
  for (const index of path) {
    node = node?.children[index];
    if (node === undefined) return null;
  }
  return node;
}

/** Decoded arguments keyed by position ("0", "1", …): the decoder's nodes carry values, not parameter names. */
function argsByPosition(args: readonly unknown[]): Record<string, unknown> {
  return Object.fromEntries(args.map((a, i) => [String(i), a]));
}

/** One decoded effect as policy facts: its own type, asset, recipient, amount and approval fields. */
export async function effectFacts(
  deps: { chains: ChainRegistry; verifiedContracts: VerifiedContracts },
  chainId: number,
  decoded: DecodedCall,
  effect: Effect,
): Promise<Partial<IntentFacts>> {
  const node = findNode(decoded.calls, effect.path);
  const known = node !== null && node.kind !== 'unknown_call';
  const call =
    node?.functionName && node.args ? { functionName: node.functionName, args: argsByPosition(node.args) } : undefined;
  const common: Partial<IntentFacts> = {
    selector: effect.selector ?? node?.selector ?? undefined,
    call,
    contractVerified: await deps.verifiedContracts.isVerified(chainId, effect.target),
    spender: undefined,
    approvalAmount: undefined,
  };
  const decimalsOf = async (asset: Address | 'native'): Promise<number | undefined> =>
    asset === 'native'
      ? NATIVE_DECIMALS
      : ((await deps.chains.tokenDecimals(chainId, asset).catch(() => null)) ?? undefined);
  switch (effect.kind) {
    case 'native_transfer':
      return {
        ...common,
        type: 'transfer',
        recipient: effect.recipient ?? effect.target,
        asset: 'native',
        amount: effect.amount,
        decimals: NATIVE_DECIMALS,
        unlimitedApproval: false,
      };
    case 'transfer': {
      const nft = effect.standard === 'erc721' || effect.standard === 'erc1155';
      return {
        ...common,
        type: 'transfer',
        recipient: effect.recipient,
        asset: effect.asset,
        amount: effect.standard === 'erc721' ? 1n : effect.amount,
        decimals: nft ? 0 : await decimalsOf(effect.asset),
        unlimitedApproval: false,
      };
    }
    case 'approval':
    case 'permit':
      return {
        ...common,
        type: 'approve',
        recipient: effect.spender,
        asset: effect.asset,
        amount: effect.amount,
        decimals: effect.standard === 'erc721' ? 0 : await decimalsOf(effect.asset),
        spender: effect.spender,
        approvalAmount: effect.amount,
        unlimitedApproval: effect.unlimited === true,
      };
    case 'approval_for_all':
      return {
        ...common,
        type: 'approve',
        recipient: effect.spender,
        asset: effect.asset,
        amount: undefined,
        decimals: undefined,
        spender: effect.spender,
        unlimitedApproval: effect.unlimited === true,
      };
    case 'contract_call':
    case 'delegatecall':
      return {
        ...common,
        type: 'contract_call',
        recipient: effect.target,
        asset: 'native',
        amount: node?.value ?? 0n,
        decimals: NATIVE_DECIMALS,
        // A batch wrapper's own effect: the decoder read everything it does (its inner effects are listed too).
        // An unknown selector could do anything, approvals included: left unknown, so such rules fail closed.
        unlimitedApproval: known && WRAPPER_KINDS.has(node.kind) && effect.kind === 'contract_call' ? false : undefined,
      };
  }
}

export function selectorOf(data: Hex): `0x${string}` | undefined {
  return data.length >= 10 ? (data.slice(0, 10).toLowerCase() as `0x${string}`) : undefined;
}

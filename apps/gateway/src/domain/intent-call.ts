import { createHash } from 'node:crypto';
import { encodeFunctionData, erc20Abi, type Address, type Hex } from 'viem';
import { canonicalJson } from '../lib/canonical-json.ts';
import type { IntentRecord } from './intent.ts';

/** The call a stored intent makes: the same transaction normalisation built (ERC-20 transfers re-encoded). */
export function callOf(intent: IntentRecord): { to: Address; value: bigint; data: Hex } {
  if (intent.data !== null)
    return {
      to: intent.to as Address,
      value: intent.asset === 'native' ? intent.amount : 0n,
      data: intent.data as Hex,
    };
  if (intent.asset === 'native') return { to: intent.recipient as Address, value: intent.amount, data: '0x' };
  return {
    to: intent.asset as Address,
    value: 0n,
    data: encodeFunctionData({
      abi: erc20Abi,
      functionName: 'transfer',
      args: [intent.recipient as Address, intent.amount],
    }),
  };
}

/**
 * The canonical digest of what an intent will have signed: chain, sender, the call (to, value, data) and what the
 * agent declared (type, asset, recipient, amount). An approval is bound to this digest; any change to any of these
 * fields makes a different digest, and the approval no longer counts.
 */
export function intentDigest(intent: IntentRecord): string {
  const call = callOf(intent);
  return `sha256:${createHash('sha256')
    .update(
      canonicalJson({
        chainId: intent.chainId,
        from: intent.from,
        to: call.to,
        value: call.value.toString(),
        data: call.data,
        type: intent.type,
        asset: intent.asset,
        recipient: intent.recipient,
        amount: intent.amount.toString(),
        decimals: intent.decimals,
      }),
    )
    .digest('hex')}`;
}

import { encodeFunctionData, erc20Abi, type Address, type Hex } from 'viem';
import {
  assertDecimalString,
  Clawd402Error,
  parseAddress,
  parseAmount,
  parseCalldata,
  parseRecipient,
  type IntentBody,
} from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';

const NATIVE_DECIMALS = 18;

/**
 * An intent after validation: checksummed addresses, amounts in base units, the transaction it implies. Frozen:
 * later stages read this copy, never the request body.
 */
export interface NormalizedIntent {
  readonly type: 'transfer' | 'contract_call';
  readonly chainId: number;
  /** Who receives value: the transfer recipient, or the called contract. */
  readonly recipient: Address;
  readonly asset: 'native' | Address;
  /** In the asset's base units. */
  readonly amount: bigint;
  readonly decimals: number;
  readonly memo: string | null;
  /** The call the transaction makes. */
  readonly call: { readonly to: Address; readonly value: bigint; readonly data: Hex };
  /** The calldata the agent sent (contract calls only). */
  readonly data: Hex | null;
}

export async function normalizeIntent(body: IntentBody, chains: ChainRegistry): Promise<NormalizedIntent> {
  if (!chains.has(body.chainId)) {
    throw new Clawd402Error('chain_not_configured', `Chain ${body.chainId} is not configured on this gateway.`, {
      details: { field: 'chainId', chainId: body.chainId },
    });
  }
  const memo = body.memo ?? null;
  if (body.type === 'transfer') {
    const recipient = parseRecipient('to', body.to);
    if (body.asset === 'native') {
      const amount = parseAmount('amount', body.amount, NATIVE_DECIMALS);
      if (amount === 0n) throw new Clawd402Error('amount_zero', undefined, { details: { field: 'amount' } });
      return Object.freeze({
        type: 'transfer',
        chainId: body.chainId,
        recipient,
        asset: 'native',
        amount,
        decimals: NATIVE_DECIMALS,
        memo,
        call: Object.freeze({ to: recipient, value: amount, data: '0x' as Hex }),
        data: null,
      });
    }
    const token = parseAddress('asset', body.asset);
    assertDecimalString('amount', body.amount); // refuse bad syntax before asking the chain anything
    const decimals = await chains.tokenDecimals(body.chainId, token);
    const amount = parseAmount('amount', body.amount, decimals);
    if (amount === 0n) throw new Clawd402Error('amount_zero', undefined, { details: { field: 'amount' } });
    return Object.freeze({
      type: 'transfer',
      chainId: body.chainId,
      recipient,
      asset: token,
      amount,
      decimals,
      memo,
      call: Object.freeze({
        to: token,
        value: 0n,
        data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [recipient, amount] }),
      }),
      data: null,
    });
  }
  const to = parseRecipient('to', body.to);
  const data = parseCalldata('data', body.data);
  const value = body.value === undefined ? 0n : parseAmount('value', body.value, NATIVE_DECIMALS);
  return Object.freeze({
    type: 'contract_call',
    chainId: body.chainId,
    recipient: to,
    asset: 'native',
    amount: value,
    decimals: NATIVE_DECIMALS,
    memo,
    call: Object.freeze({ to, value, data }),
    data,
  });
}

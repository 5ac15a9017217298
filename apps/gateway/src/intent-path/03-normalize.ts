import { encodeFunctionData, erc20Abi, type Address } from 'viem';
import {
  assertDecimalString,
  Clawd402Error,
  parseAddress,
  parseAmount,
  parseCalldata,
  parseRecipient,
  type TransactionIntentBody,
} from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { SwapPlanner } from '../swaps/swap-planner.ts';
import type { NormalizedIntent } from '../domain/intent.ts';
import { redactPersonalData } from '../security/intent-hygiene.ts';

const NATIVE_DECIMALS = 18;

/** What normalising a swap needs beyond the body: who receives the output (the signer) and the router planner. */
export interface NormalizeContext {
  readonly from: Address;
  readonly swaps: SwapPlanner;
}

/**
 * Stage 3 — normalize: checksummed addresses, amounts in the asset's base units, the transaction the intent implies
 * (a swap is planned against the router here), memo redacted. The result is frozen; later stages read this copy.
 */
export async function normalizeIntent(
  body: TransactionIntentBody,
  chains: ChainRegistry,
  context?: NormalizeContext,
): Promise<NormalizedIntent> {
  if (!chains.has(body.chainId)) {
    throw new Clawd402Error('chain_not_configured', `Chain ${body.chainId} is not configured on this gateway.`, {
      details: { field: 'chainId', chainId: body.chainId },
    });
  }
  // Stored and returned without emails, phone numbers, card numbers or SSNs (docs/intent-hygiene.md).
  const memo = body.memo === undefined ? null : redactPersonalData(body.memo);
  const deadline = body.deadline ?? null;
  if (deadline !== null && deadline <= Math.floor(Date.now() / 1000)) {
    throw new Clawd402Error(
      'deadline_passed',
      `The deadline (${deadline}, unix seconds) has passed; nothing was recorded.`,
      { details: { field: 'deadline' } },
    );
  }
  if (body.type === 'swap') {
    if (context === undefined)
      throw new Clawd402Error(
        'swap_unsupported',
        'A swap can only be normalised for an agent (its signer receives the output).',
      );
    const swap = await context.swaps.plan(body, context.from);
    return Object.freeze({
      type: 'swap',
      chainId: body.chainId,
      recipient: swap.router,
      asset: swap.inputAsset,
      amount: swap.inputAmount,
      decimals: swap.inputDecimals,
      memo,
      call: swap.call,
      data: swap.call.data,
      deadline,
      swap,
    });
  }
  if (body.type === 'transfer') {
    const recipient = parseRecipient('to', body.to);
    // Native value moves with the call; a token moves by its transfer(), in its own decimals (asked of the chain).
    const token = body.asset === 'native' ? null : parseAddress('asset', body.asset);
    if (token) assertDecimalString('amount', body.amount); // refuse bad syntax before asking the chain anything
    const decimals = token ? await chains.tokenDecimals(body.chainId, token) : NATIVE_DECIMALS;
    const amount = parseAmount('amount', body.amount, decimals);
    if (amount === 0n) throw new Clawd402Error('amount_zero', undefined, { details: { field: 'amount' } });
    return Object.freeze({
      type: 'transfer',
      chainId: body.chainId,
      recipient,
      asset: token ?? 'native',
      amount,
      decimals,
      memo,
      call: Object.freeze(
        token
          ? {
              to: token,
              value: 0n,
              data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [recipient, amount] }),
            }
          : { to: recipient, value: amount, data: '0x' as const },
      ),
      data: null,
      deadline,
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
    deadline,
  });
}

export type { NormalizedIntent } from '../domain/intent.ts';

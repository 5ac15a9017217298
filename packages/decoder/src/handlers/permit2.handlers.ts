import type { Address } from 'viem';
import { defineHandler, MalformedCallError, type CallHandler, type EffectDraft } from '../call-handler.ts';
import { isUnlimitedAmount } from '../effect.ts';
import {
  PERMIT2_APPROVE,
  PERMIT2_LOCKDOWN,
  PERMIT2_PERMIT_BATCH,
  PERMIT2_PERMIT_BATCH_TRANSFER_FROM,
  PERMIT2_PERMIT_BATCH_WITNESS_TRANSFER_FROM,
  PERMIT2_PERMIT_SINGLE,
  PERMIT2_PERMIT_TRANSFER_FROM,
  PERMIT2_PERMIT_WITNESS_TRANSFER_FROM,
  PERMIT2_TRANSFER_FROM,
  PERMIT2_TRANSFER_FROM_BATCH,
} from '../abi/permit2.abi.ts';
import { permit2AllowanceEffect, type Permit2Details } from '../grant-effects.ts';

interface TokenPermissions {
  token: Address;
  amount: bigint;
}
interface TransferDetails {
  to: Address;
  requestedAmount: bigint;
}

// SignatureTransfer: the caller (the permit's spender) moves `requestedAmount` of the permitted token from `owner`
// to `to`, once. The effect is the transfer itself.
function signatureTransfers(
  owner: Address,
  caller: Address | undefined,
  deadline: bigint,
  permitted: readonly TokenPermissions[],
  details: readonly TransferDetails[],
): EffectDraft[] {
  // Permit2 reverts with LengthMismatch when the two lists differ.
  if (permitted.length !== details.length)
    throw new MalformedCallError('permitted and transferDetails differ in length');
  return details.map((d, i) => ({
    kind: 'transfer' as const,
    asset: permitted[i]!.token,
    from: owner,
    recipient: d.to,
    amount: d.requestedAmount,
    spender: caller,
    deadline,
    standard: 'erc20' as const,
  }));
}

/** One item as a list of one; a list as it is (the batch functions take lists where the single ones take one). */
function asList<T>(value: T | readonly T[]): readonly T[] {
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/** A SignatureTransfer function, single or batch, plain or with a witness (which adds nothing to the effects). */
const signatureTransfer = (
  kind:
    | 'permit2_permit_transfer_from'
    | 'permit2_permit_witness_transfer_from'
    | 'permit2_permit_batch_transfer_from'
    | 'permit2_permit_batch_witness_transfer_from',
  item: typeof PERMIT2_PERMIT_TRANSFER_FROM,
) =>
  defineHandler({
    kind,
    item,
    effects: (args, ctx) => {
      const [permit, details, owner] = args as [
        { permitted: TokenPermissions | readonly TokenPermissions[]; deadline: bigint },
        TransferDetails | readonly TransferDetails[],
        Address,
      ];
      return signatureTransfers(owner, ctx.sender, permit.deadline, asList(permit.permitted), asList(details));
    },
  });

/** Permit2's AllowanceTransfer and SignatureTransfer functions. */
export const PERMIT2_HANDLERS: readonly CallHandler[] = [
  defineHandler({
    kind: 'permit2_approve',
    item: PERMIT2_APPROVE,
    effects: (args, ctx) => {
      const [token, spender, amount, expiration] = args as [Address, Address, bigint, number];
      return [
        {
          kind: 'approval',
          asset: token,
          from: ctx.sender,
          spender,
          amount,
          unlimited: isUnlimitedAmount(amount, 160),
          expiration: BigInt(expiration),
          standard: 'erc20',
        },
      ];
    },
  }),
  defineHandler({
    kind: 'permit2_permit',
    item: PERMIT2_PERMIT_SINGLE,
    effects: (args) => {
      const [owner, p] = args as [Address, { details: Permit2Details; spender: Address; sigDeadline: bigint }];
      return [permit2AllowanceEffect(owner, p.spender, p.sigDeadline, p.details)];
    },
  }),
  defineHandler({
    kind: 'permit2_permit_batch',
    item: PERMIT2_PERMIT_BATCH,
    effects: (args) => {
      const [owner, p] = args as [
        Address,
        { details: readonly Permit2Details[]; spender: Address; sigDeadline: bigint },
      ];
      return p.details.map((d) => permit2AllowanceEffect(owner, p.spender, p.sigDeadline, d));
    },
  }),
  defineHandler({
    kind: 'permit2_transfer_from',
    item: PERMIT2_TRANSFER_FROM,
    effects: (args, ctx) => {
      const [from, to, amount, token] = args as [Address, Address, bigint, Address];
      return [{ kind: 'transfer', asset: token, from, recipient: to, amount, spender: ctx.sender, standard: 'erc20' }];
    },
  }),
  defineHandler({
    kind: 'permit2_transfer_from_batch',
    item: PERMIT2_TRANSFER_FROM_BATCH,
    effects: (args, ctx) => {
      const [details] = args as [readonly { from: Address; to: Address; amount: bigint; token: Address }[]];
      return details.map((d) => ({
        kind: 'transfer' as const,
        asset: d.token,
        from: d.from,
        recipient: d.to,
        amount: d.amount,
        spender: ctx.sender,
        standard: 'erc20' as const,
      }));
    },
  }),
  // lockdown only revokes approvals; it is a known, harmless call and gets the plain contract_call effect.
  defineHandler({ kind: 'permit2_lockdown', item: PERMIT2_LOCKDOWN, effects: () => [] }),
  signatureTransfer('permit2_permit_transfer_from', PERMIT2_PERMIT_TRANSFER_FROM),
  signatureTransfer('permit2_permit_batch_transfer_from', PERMIT2_PERMIT_BATCH_TRANSFER_FROM),
  signatureTransfer('permit2_permit_witness_transfer_from', PERMIT2_PERMIT_WITNESS_TRANSFER_FROM),
  signatureTransfer('permit2_permit_batch_witness_transfer_from', PERMIT2_PERMIT_BATCH_WITNESS_TRANSFER_FROM),
];

import { maxUint256, type Address } from 'viem';
import type { EffectDraft } from './call-handler.ts';
import { isUnlimitedAmount } from './effect.ts';

// The grants a token or Permit2 honours whether they arrive as a call (the call handlers) or as a signed typed-data
// payload (the typed-data recogniser): one builder each, so both readings describe the same grant the same way.

/** An EIP-2612 permit: `owner` lets `spender` move `value` of `token`, signed until `deadline`. */
export function eip2612PermitEffect(
  token: Address,
  owner: Address,
  spender: Address,
  value: bigint,
  deadline: bigint,
): EffectDraft {
  return {
    kind: 'permit',
    asset: token,
    from: owner,
    spender,
    amount: value,
    unlimited: isUnlimitedAmount(value),
    deadline,
    standard: 'erc20',
  };
}

/** A DAI permit: `allowed` sets the allowance to 2^256 - 1, not allowed sets it to 0; expiry 0 never expires. */
export function daiPermitEffect(
  token: Address,
  holder: Address,
  spender: Address,
  allowed: boolean,
  expiry: bigint,
): EffectDraft {
  return {
    kind: 'permit',
    asset: token,
    from: holder,
    spender,
    amount: allowed ? maxUint256 : 0n,
    unlimited: allowed,
    deadline: expiry,
    standard: 'erc20',
  };
}

/** Permit2's PermitDetails: one token's allowance in an AllowanceTransfer permit. */
export interface Permit2Details {
  readonly token: Address;
  readonly amount: bigint;
  readonly expiration: bigint | number;
}

/**
 * A Permit2 AllowanceTransfer permit for one token (uint160 amount), signed until `sigDeadline`. `owner` is undefined
 * when only the signed message is known (the signer is not part of it).
 */
export function permit2AllowanceEffect(
  owner: Address | undefined,
  spender: Address,
  sigDeadline: bigint,
  details: Permit2Details,
): EffectDraft {
  return {
    kind: 'permit',
    asset: details.token,
    from: owner,
    spender,
    amount: details.amount,
    unlimited: isUnlimitedAmount(details.amount, 160),
    expiration: BigInt(details.expiration),
    deadline: sigDeadline,
    standard: 'erc20',
  };
}

/** An EIP-3009 authorization: `value` of `token` moves from `from` (who signed) to `to`; validBefore is the deadline. */
export function eip3009TransferEffect(
  token: Address,
  from: Address,
  to: Address,
  value: bigint,
  validBefore: bigint,
): EffectDraft {
  return {
    kind: 'transfer',
    asset: token,
    from,
    recipient: to,
    amount: value,
    deadline: validBefore,
    standard: 'erc20',
  };
}

import type { Address, Hex } from 'viem';

/** What one inner action does, as policy must see it. */
export type EffectKind =
  'transfer' | 'approval' | 'approval_for_all' | 'permit' | 'native_transfer' | 'contract_call' | 'delegatecall';

/**
 * The token standard an effect belongs to when the selector says so. ERC-20 and ERC-721 share the selectors of
 * `transferFrom(address,address,uint256)` and `approve(address,uint256)`; without chain state the decoder cannot tell
 * them apart and says `erc20_or_erc721` (the uint256 is then in `amount`: a token id if the asset is an ERC-721).
 */
export type TokenStandard = 'erc20' | 'erc721' | 'erc1155' | 'erc20_or_erc721';

/**
 * One fact policy must see: one per inner action of a call tree or per grant in a signed typed-data payload.
 * Fields that do not apply are absent, and an absent fact is unknown, never zero: a policy limit on an effect without
 * `amount` must fail closed.
 */
export interface Effect {
  readonly kind: EffectKind;
  /**
   * `'native'` for the chain's coin; else the token contract. For `contract_call` and `delegatecall` effects (no asset
   * is identified) it is the called contract, the same as `target`.
   */
  readonly asset: Address | 'native';
  /** The contract called (for typed data: the domain's verifyingContract). */
  readonly target: Address;
  /** Whose assets move or are approved: the token owner, or the caller when the call moves its own balance. */
  readonly from?: Address;
  /** Who receives a transfer (`native_transfer`: the called address). */
  readonly recipient?: Address;
  /**
   * Who is allowed to spend (approval, approval_for_all, permit); on a transfer, the caller that moves the tokens
   * (for transferFrom and Permit2 transfers, someone other than `from`).
   */
  readonly spender?: Address;
  /** Amount in base units. For `erc20_or_erc721` it is the uint256 argument (a token id for an ERC-721). */
  readonly amount?: bigint;
  /** ERC-721 / ERC-1155 token id. */
  readonly tokenId?: bigint;
  /** The approval is unlimited (see {@link isUnlimitedAmount}); `setApprovalForAll(…, true)` is always unlimited. */
  readonly unlimited?: boolean;
  /** `setApprovalForAll`'s flag: true grants, false revokes. */
  readonly approved?: boolean;
  /** The selector of the call that produced this effect. */
  readonly selector?: Hex;
  readonly standard?: TokenStandard;
  /** When a signature stops being usable (EIP-2612 deadline, Permit2 sigDeadline/deadline, EIP-3009 validBefore). */
  readonly deadline?: bigint;
  /** When a granted Permit2 allowance expires (0 means at the end of the block it is used in). */
  readonly expiration?: bigint;
  /** Where in the call tree the effect comes from: child indices from the root (`[]` is the root). */
  readonly path: readonly number[];
}

const HALF_UINT256 = 1n << 255n;

/**
 * The unlimited-approval rule: an amount is unlimited when it is at least half of its field's range. That covers the
 * max-value sentinels wallets and dapps use (`2^256 - 1`, and `2^160 - 1` that Permit2 treats as "never decrement")
 * and any amount so large no real balance could bound it.
 *
 * - uint256 fields (ERC-20 approve/increaseAllowance, EIP-2612, Permit2 SignatureTransfer): `amount >= 2^255`.
 * - uint160 fields (Permit2 AllowanceTransfer): `amount >= 2^159`.
 */
export function isUnlimitedAmount(amount: bigint, bits: 160 | 256 = 256): boolean {
  return bits === 256 ? amount >= HALF_UINT256 : amount >= 1n << 159n;
}

/** True when any approval, approval_for_all or permit effect is unlimited. */
export function hasUnlimitedApproval(effects: readonly Effect[]): boolean {
  return effects.some(
    (e) => e.unlimited === true && (e.kind === 'approval' || e.kind === 'approval_for_all' || e.kind === 'permit'),
  );
}

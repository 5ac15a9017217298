import type { Address, Hex } from 'viem';
import { defineHandler, MalformedCallError, type CallHandler } from '../call-handler.ts';
import { isUnlimitedAmount, type TokenStandard } from '../effect.ts';
import { daiPermitEffect, eip2612PermitEffect, eip3009TransferEffect } from '../grant-effects.ts';
import {
  DAI_PERMIT,
  EIP2612_PERMIT,
  EIP3009_RECEIVE_WITH_AUTHORIZATION,
  EIP3009_RECEIVE_WITH_AUTHORIZATION_BYTES,
  EIP3009_TRANSFER_WITH_AUTHORIZATION,
  EIP3009_TRANSFER_WITH_AUTHORIZATION_BYTES,
  ERC1155_SAFE_BATCH_TRANSFER_FROM,
  ERC1155_SAFE_TRANSFER_FROM,
  ERC20_INCREASE_ALLOWANCE,
  ERC20_TRANSFER,
  ERC721_SAFE_TRANSFER_FROM,
  ERC721_SAFE_TRANSFER_FROM_WITH_DATA,
  SET_APPROVAL_FOR_ALL,
  TOKEN_APPROVE,
  TOKEN_TRANSFER_FROM,
} from '../abi/token.abi.ts';

const erc721SafeTransfer = (item: typeof ERC721_SAFE_TRANSFER_FROM) =>
  defineHandler({
    kind: 'erc721_safe_transfer',
    item,
    effects: (args, ctx) => {
      const [from, to, tokenId] = args as [Address, Address, bigint];
      return [
        { kind: 'transfer', asset: ctx.target, from, recipient: to, tokenId, spender: ctx.sender, standard: 'erc721' },
      ];
    },
  });

/** approve / increaseAllowance: the caller lets `spender` move `amount` (the added amount) of the called token. */
const callerApproval = (
  kind: 'token_approve' | 'erc20_increase_allowance',
  item: typeof TOKEN_APPROVE,
  standard: TokenStandard,
) =>
  defineHandler({
    kind,
    item,
    effects: (args, ctx) => {
      const [spender, amount] = args as [Address, bigint];
      return [
        {
          kind: 'approval',
          asset: ctx.target,
          from: ctx.sender,
          spender,
          amount,
          unlimited: isUnlimitedAmount(amount),
          standard,
        },
      ];
    },
  });

// EIP-3009: the token moves `value` from `from` (who signed) to `to`; receiveWithAuthorization also requires the
// caller to be `to`. validBefore is the deadline.
const erc3009 = (item: typeof EIP3009_TRANSFER_WITH_AUTHORIZATION) =>
  defineHandler({
    kind: 'erc3009_transfer',
    item,
    effects: (args, ctx) => {
      const [from, to, value, , validBefore] = args as [Address, Address, bigint, bigint, bigint, Hex];
      return [eip3009TransferEffect(ctx.target, from, to, value, validBefore)];
    },
  });

/** ERC-20, ERC-721, ERC-1155, EIP-2612, DAI permit and EIP-3009 functions. */
export const TOKEN_HANDLERS: readonly CallHandler[] = [
  defineHandler({
    kind: 'erc20_transfer',
    item: ERC20_TRANSFER,
    effects: (args, ctx) => {
      const [to, amount] = args as [Address, bigint];
      return [{ kind: 'transfer', asset: ctx.target, from: ctx.sender, recipient: to, amount, standard: 'erc20' }];
    },
  }),
  defineHandler({
    kind: 'token_transfer_from',
    item: TOKEN_TRANSFER_FROM,
    effects: (args, ctx) => {
      const [from, to, amount] = args as [Address, Address, bigint];
      return [
        {
          kind: 'transfer',
          asset: ctx.target,
          from,
          recipient: to,
          amount,
          spender: ctx.sender,
          standard: 'erc20_or_erc721',
        },
      ];
    },
  }),
  callerApproval('token_approve', TOKEN_APPROVE, 'erc20_or_erc721'),
  callerApproval('erc20_increase_allowance', ERC20_INCREASE_ALLOWANCE, 'erc20'),
  erc721SafeTransfer(ERC721_SAFE_TRANSFER_FROM),
  erc721SafeTransfer(ERC721_SAFE_TRANSFER_FROM_WITH_DATA),
  defineHandler({
    kind: 'set_approval_for_all',
    item: SET_APPROVAL_FOR_ALL,
    effects: (args, ctx) => {
      const [operator, approved] = args as [Address, boolean];
      return [
        {
          kind: 'approval_for_all',
          asset: ctx.target,
          from: ctx.sender,
          spender: operator,
          approved,
          unlimited: approved,
        },
      ];
    },
  }),
  defineHandler({
    kind: 'erc1155_transfer',
    item: ERC1155_SAFE_TRANSFER_FROM,
    effects: (args, ctx) => {
      const [from, to, id, value] = args as [Address, Address, bigint, bigint, Hex];
      return [
        {
          kind: 'transfer',
          asset: ctx.target,
          from,
          recipient: to,
          tokenId: id,
          amount: value,
          spender: ctx.sender,
          standard: 'erc1155',
        },
      ];
    },
  }),
  defineHandler({
    kind: 'erc1155_batch_transfer',
    item: ERC1155_SAFE_BATCH_TRANSFER_FROM,
    effects: (args, ctx) => {
      const [from, to, ids, values] = args as [Address, Address, readonly bigint[], readonly bigint[], Hex];
      // ERC-1155 requires equal lengths and reverts otherwise; a mismatch is not a batch the decoder can describe.
      if (ids.length !== values.length) throw new MalformedCallError('ids and values differ in length');
      return ids.map((id, i) => ({
        kind: 'transfer' as const,
        asset: ctx.target,
        from,
        recipient: to,
        tokenId: id,
        amount: values[i]!,
        spender: ctx.sender,
        standard: 'erc1155' as const,
      }));
    },
  }),
  defineHandler({
    kind: 'erc20_permit',
    item: EIP2612_PERMIT,
    effects: (args, ctx) => {
      const [owner, spender, value, deadline] = args as [Address, Address, bigint, bigint];
      return [eip2612PermitEffect(ctx.target, owner, spender, value, deadline)];
    },
  }),
  defineHandler({
    kind: 'dai_permit',
    item: DAI_PERMIT,
    effects: (args, ctx) => {
      const [holder, spender, , expiry, allowed] = args as [Address, Address, bigint, bigint, boolean];
      return [daiPermitEffect(ctx.target, holder, spender, allowed, expiry)];
    },
  }),
  erc3009(EIP3009_TRANSFER_WITH_AUTHORIZATION),
  erc3009(EIP3009_TRANSFER_WITH_AUTHORIZATION_BYTES),
  erc3009(EIP3009_RECEIVE_WITH_AUTHORIZATION),
  erc3009(EIP3009_RECEIVE_WITH_AUTHORIZATION_BYTES),
];

import type { Address } from 'viem';
import type { EffectDraft } from '../call-handler.ts';
import { isUnlimitedAmount } from '../effect.ts';
import {
  daiPermitEffect,
  eip2612PermitEffect,
  eip3009TransferEffect,
  permit2AllowanceEffect,
  type Permit2Details,
} from '../grant-effects.ts';
import type { NormalizedTypedData, TypedDataField } from './normalize-typed-data.ts';

/** The EIP-712 payloads the decoder recognises; anything else is `unknown` (no effects: treat it as unknown). */
export const TYPED_DATA_KINDS = [
  'erc20_permit',
  'dai_permit',
  'erc721_permit',
  'permit2_permit',
  'permit2_permit_batch',
  'permit2_permit_transfer_from',
  'permit2_permit_batch_transfer_from',
  'permit2_permit_witness_transfer_from',
  'permit2_permit_batch_witness_transfer_from',
  'erc3009_transfer',
  'unknown',
] as const;

export type TypedDataKind = (typeof TYPED_DATA_KINDS)[number];

// Struct definitions exactly as the contracts hash them ("type name" pairs in order).
const EIP2612_PERMIT = 'address owner,address spender,uint256 value,uint256 nonce,uint256 deadline';
const DAI_PERMIT = 'address holder,address spender,uint256 nonce,uint256 expiry,bool allowed';
const ERC721_PERMIT = 'address spender,uint256 tokenId,uint256 nonce,uint256 deadline';
const PERMIT_DETAILS = 'address token,uint160 amount,uint48 expiration,uint48 nonce';
const PERMIT_SINGLE = 'PermitDetails details,address spender,uint256 sigDeadline';
const PERMIT_BATCH = 'PermitDetails[] details,address spender,uint256 sigDeadline';
const TOKEN_PERMISSIONS = 'address token,uint256 amount';
const PERMIT_TRANSFER_FROM = 'TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline';
const PERMIT_BATCH_TRANSFER_FROM = 'TokenPermissions[] permitted,address spender,uint256 nonce,uint256 deadline';
const EIP3009_AUTHORIZATION =
  'address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce';

function shape(fields: readonly TypedDataField[] | undefined): string | undefined {
  return fields?.map((f) => `${f.type} ${f.name}`).join(',');
}

interface TokenPermissions {
  token: Address;
  amount: bigint;
}

/**
 * Which known payload this is, and the grants it signs. Recognition is by primaryType and the exact field list of
 * the primary struct and the structs it uses, and needs a domain verifyingContract (the token for EIP-2612, DAI,
 * ERC-721 and EIP-3009; Permit2 for the Permit2 types) — without one the signature cannot be attributed to a
 * contract and the payload is `unknown`.
 */
export function recognizeTypedData(data: NormalizedTypedData): { kind: TypedDataKind; effects: EffectDraft[] } {
  const contract = data.domain.verifyingContract;
  const { types, primaryType: primary } = data;
  const m = data.message;
  const primaryShape = shape(types[primary]);
  if (contract === undefined || primaryShape === undefined) return { kind: 'unknown', effects: [] };

  if (primary === 'Permit' && primaryShape === EIP2612_PERMIT) {
    const effect = eip2612PermitEffect(
      contract,
      m.owner as Address,
      m.spender as Address,
      m.value as bigint,
      m.deadline as bigint,
    );
    return { kind: 'erc20_permit', effects: [effect] };
  }
  if (primary === 'Permit' && primaryShape === DAI_PERMIT) {
    const effect = daiPermitEffect(
      contract,
      m.holder as Address,
      m.spender as Address,
      m.allowed as boolean,
      m.expiry as bigint,
    );
    return { kind: 'dai_permit', effects: [effect] };
  }
  if (primary === 'Permit' && primaryShape === ERC721_PERMIT) {
    return {
      kind: 'erc721_permit',
      effects: [
        {
          kind: 'permit',
          asset: contract,
          spender: m.spender as Address,
          tokenId: m.tokenId as bigint,
          deadline: m.deadline as bigint,
          standard: 'erc721',
        },
      ],
    };
  }

  const permitDetails = shape(types.PermitDetails) === PERMIT_DETAILS;
  const allowance = (d: Permit2Details): EffectDraft =>
    permit2AllowanceEffect(undefined, m.spender as Address, m.sigDeadline as bigint, d);
  if (primary === 'PermitSingle' && primaryShape === PERMIT_SINGLE && permitDetails) {
    return { kind: 'permit2_permit', effects: [allowance(m.details as Permit2Details)] };
  }
  if (primary === 'PermitBatch' && primaryShape === PERMIT_BATCH && permitDetails) {
    return { kind: 'permit2_permit_batch', effects: (m.details as Permit2Details[]).map(allowance) };
  }

  // SignatureTransfer: the spender may pull up to `amount` of each token, once, to a recipient it chooses.
  const tokenPermissions = shape(types.TokenPermissions) === TOKEN_PERMISSIONS;
  const signature = (p: TokenPermissions): EffectDraft => ({
    kind: 'permit',
    asset: p.token,
    spender: m.spender as Address,
    amount: p.amount,
    unlimited: isUnlimitedAmount(p.amount),
    deadline: m.deadline as bigint,
    standard: 'erc20',
  });
  if (tokenPermissions) {
    if (primary === 'PermitTransferFrom' && primaryShape === PERMIT_TRANSFER_FROM) {
      return { kind: 'permit2_permit_transfer_from', effects: [signature(m.permitted as TokenPermissions)] };
    }
    if (primary === 'PermitBatchTransferFrom' && primaryShape === PERMIT_BATCH_TRANSFER_FROM) {
      return {
        kind: 'permit2_permit_batch_transfer_from',
        effects: (m.permitted as TokenPermissions[]).map(signature),
      };
    }
    // Witness variants: the four standard fields, then exactly one witness of any struct type (Permit2 appends the
    // caller's witnessTypeString after `deadline,`).
    const witness = witnessOf(types, primary);
    if (primary === 'PermitWitnessTransferFrom' && witness === PERMIT_TRANSFER_FROM) {
      return { kind: 'permit2_permit_witness_transfer_from', effects: [signature(m.permitted as TokenPermissions)] };
    }
    if (primary === 'PermitBatchWitnessTransferFrom' && witness === PERMIT_BATCH_TRANSFER_FROM) {
      return {
        kind: 'permit2_permit_batch_witness_transfer_from',
        effects: (m.permitted as TokenPermissions[]).map(signature),
      };
    }
  }

  if (
    (primary === 'TransferWithAuthorization' || primary === 'ReceiveWithAuthorization') &&
    primaryShape === EIP3009_AUTHORIZATION
  ) {
    const effect = eip3009TransferEffect(
      contract,
      m.from as Address,
      m.to as Address,
      m.value as bigint,
      m.validBefore as bigint,
    );
    return { kind: 'erc3009_transfer', effects: [effect] };
  }
  return { kind: 'unknown', effects: [] };
}

/** The shape of the first four fields when the fifth and last is a struct-typed witness; otherwise undefined. */
function witnessOf(types: NormalizedTypedData['types'], primary: string): string | undefined {
  const fields = types[primary];
  if (fields?.length !== 5) return undefined;
  const last = fields[4]!;
  if (!Object.hasOwn(types, last.type)) return undefined;
  return shape(fields.slice(0, 4));
}

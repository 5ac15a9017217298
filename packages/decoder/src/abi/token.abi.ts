import { erc1155Abi, erc20Abi, erc721Abi, parseAbi } from 'viem';
import { pickFunction } from '../call-handler.ts';

/** ERC-20 / ERC-721 / ERC-1155 functions from viem's ABIs; the extensions viem does not ship are parsed below. */
export const ERC20_TRANSFER = pickFunction(erc20Abi, 'transfer', 2);
/** Shared by ERC-20 and ERC-721 (same selector 0x23b872dd). */
export const TOKEN_TRANSFER_FROM = pickFunction(erc20Abi, 'transferFrom', 3);
/** Shared by ERC-20 and ERC-721 (same selector 0x095ea7b3). */
export const TOKEN_APPROVE = pickFunction(erc20Abi, 'approve', 2);
export const ERC721_SAFE_TRANSFER_FROM = pickFunction(erc721Abi, 'safeTransferFrom', 3);
export const ERC721_SAFE_TRANSFER_FROM_WITH_DATA = pickFunction(erc721Abi, 'safeTransferFrom', 4);
/** Shared by ERC-721 and ERC-1155 (same selector 0xa22cb465). */
export const SET_APPROVAL_FOR_ALL = pickFunction(erc721Abi, 'setApprovalForAll', 2);
export const ERC1155_SAFE_TRANSFER_FROM = pickFunction(erc1155Abi, 'safeTransferFrom', 5);
export const ERC1155_SAFE_BATCH_TRANSFER_FROM = pickFunction(erc1155Abi, 'safeBatchTransferFrom', 5);

const extensions = parseAbi([
  'function increaseAllowance(address spender, uint256 addedValue) returns (bool)',
  // EIP-2612
  'function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)',
  // DAI (and other pre-2612 tokens): allowed = true sets the allowance to 2^256 - 1, false to 0
  'function permit(address holder, address spender, uint256 nonce, uint256 expiry, bool allowed, uint8 v, bytes32 r, bytes32 s)',
  // EIP-3009 (USDC and the x402 "exact" scheme); v2.2 of FiatToken also takes a packed signature
  'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)',
  'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)',
  'function receiveWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)',
  'function receiveWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)',
]);

export const ERC20_INCREASE_ALLOWANCE = pickFunction(extensions, 'increaseAllowance', 2);
export const EIP2612_PERMIT = pickFunction(extensions, 'permit', 7);
export const DAI_PERMIT = pickFunction(extensions, 'permit', 8);
export const EIP3009_TRANSFER_WITH_AUTHORIZATION = pickFunction(extensions, 'transferWithAuthorization', 9);
export const EIP3009_TRANSFER_WITH_AUTHORIZATION_BYTES = pickFunction(extensions, 'transferWithAuthorization', 7);
export const EIP3009_RECEIVE_WITH_AUTHORIZATION = pickFunction(extensions, 'receiveWithAuthorization', 9);
export const EIP3009_RECEIVE_WITH_AUTHORIZATION_BYTES = pickFunction(extensions, 'receiveWithAuthorization', 7);

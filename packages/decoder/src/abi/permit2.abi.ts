import { parseAbi, type AbiParameter } from 'viem';
import { pickFunction } from '../call-handler.ts';

/** Uniswap's Permit2, deployed with CREATE2 at the same address on every chain it is on. */
export const PERMIT2_ADDRESS = '0x000000000022D473030F116dDEE9F6B43aC78BA3' as const;

/** The state-changing functions of Permit2 (AllowanceTransfer and SignatureTransfer), as in its Solidity interfaces. */
export const permit2Abi = parseAbi([
  'struct PermitDetails { address token; uint160 amount; uint48 expiration; uint48 nonce; }',
  'struct PermitSingle { PermitDetails details; address spender; uint256 sigDeadline; }',
  'struct PermitBatch { PermitDetails[] details; address spender; uint256 sigDeadline; }',
  'struct AllowanceTransferDetails { address from; address to; uint160 amount; address token; }',
  'struct TokenSpenderPair { address token; address spender; }',
  'struct TokenPermissions { address token; uint256 amount; }',
  'struct PermitTransferFrom { TokenPermissions permitted; uint256 nonce; uint256 deadline; }',
  'struct PermitBatchTransferFrom { TokenPermissions[] permitted; uint256 nonce; uint256 deadline; }',
  'struct SignatureTransferDetails { address to; uint256 requestedAmount; }',
  // AllowanceTransfer
  'function approve(address token, address spender, uint160 amount, uint48 expiration)',
  'function permit(address owner, PermitSingle permitSingle, bytes signature)',
  'function permit(address owner, PermitBatch permitBatch, bytes signature)',
  'function transferFrom(address from, address to, uint160 amount, address token)',
  'function transferFrom(AllowanceTransferDetails[] transferDetails)',
  'function lockdown(TokenSpenderPair[] approvals)',
  // SignatureTransfer
  'function permitTransferFrom(PermitTransferFrom permit, SignatureTransferDetails transferDetails, address owner, bytes signature)',
  'function permitTransferFrom(PermitBatchTransferFrom permit, SignatureTransferDetails[] transferDetails, address owner, bytes signature)',
  'function permitWitnessTransferFrom(PermitTransferFrom permit, SignatureTransferDetails transferDetails, address owner, bytes32 witness, string witnessTypeString, bytes signature)',
  'function permitWitnessTransferFrom(PermitBatchTransferFrom permit, SignatureTransferDetails[] transferDetails, address owner, bytes32 witness, string witnessTypeString, bytes signature)',
]);

export const PERMIT2_APPROVE = pickFunction(permit2Abi, 'approve', 4);
export const PERMIT2_TRANSFER_FROM = pickFunction(permit2Abi, 'transferFrom', 4);
export const PERMIT2_TRANSFER_FROM_BATCH = pickFunction(permit2Abi, 'transferFrom', 1);
export const PERMIT2_LOCKDOWN = pickFunction(permit2Abi, 'lockdown', 1);

/** The Permit2 function `name` with `inputs` inputs that `matches` accepts; `label` names it if the ABI has none. */
function permit2Function(
  name: string,
  inputs: number,
  label: string,
  matches: (parameters: readonly AbiParameter[]) => boolean,
) {
  const item = permit2Abi.find(
    (x) => x.type === 'function' && x.name === name && x.inputs.length === inputs && matches(x.inputs),
  );
  if (item?.type !== 'function') throw new Error(`Permit2 ABI has no ${label}`);
  return item;
}

/** The overload whose second input is a struct and one of whose inputs is named `componentName`. */
function byComponent(name: string, inputs: number, componentName: string) {
  return permit2Function(
    name,
    inputs,
    `${name}(${componentName})`,
    (parameters) =>
      parameters[1]?.type.startsWith('tuple') === true && parameters.some((i) => i.name === componentName),
  );
}

export const PERMIT2_PERMIT_SINGLE = byComponent('permit', 3, 'permitSingle');
export const PERMIT2_PERMIT_BATCH = byComponent('permit', 3, 'permitBatch');

/** The overload whose transfer details (second input) are one struct, or a list of them when `batch`. */
function byTransferDetails(name: string, inputs: number, batch: boolean) {
  return permit2Function(name, inputs, name, (parameters) => parameters[1]?.type === (batch ? 'tuple[]' : 'tuple'));
}

export const PERMIT2_PERMIT_TRANSFER_FROM = byTransferDetails('permitTransferFrom', 4, false);
export const PERMIT2_PERMIT_BATCH_TRANSFER_FROM = byTransferDetails('permitTransferFrom', 4, true);
export const PERMIT2_PERMIT_WITNESS_TRANSFER_FROM = byTransferDetails('permitWitnessTransferFrom', 6, false);
export const PERMIT2_PERMIT_BATCH_WITNESS_TRANSFER_FROM = byTransferDetails('permitWitnessTransferFrom', 6, true);

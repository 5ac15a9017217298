import type { Address } from 'viem';
import { assertUint256, deployCompiledContract, type DevDeployParameters } from './dev-clients.ts';

/** Parameters of {@link deployPermitToken}. */
export interface DeployPermitTokenParameters extends DevDeployParameters {
  name: string;
  symbol: string;
  /** In base units (18 decimals), minted to the deployer. */
  supply: bigint;
}

/**
 * Deploys `contracts/PermitToken.sol`: an OpenZeppelin 5 ERC-20 (18 decimals) with EIP-2612 `permit` and
 * `multicall(bytes[])`. Compiles the contracts first when their artifacts are missing or stale.
 */
export async function deployPermitToken(params: DeployPermitTokenParameters): Promise<Address> {
  assertUint256('deployPermitToken', 'supply', params.supply);
  return deployCompiledContract('PermitToken', params, [params.name, params.symbol, params.supply]);
}

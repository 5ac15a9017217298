import { maxUint256, type Address, type Hex } from 'viem';
import { loadOrCompileArtifact } from './artifacts.ts';
import { deployAndConfirm, devClients } from './dev-clients.ts';

/** Parameters of {@link deployPermitToken}. */
export interface DeployPermitTokenParameters {
  rpcUrl: string;
  deployerKey: Hex;
  name: string;
  symbol: string;
  /** In base units (18 decimals), minted to the deployer. */
  supply: bigint;
  receiptTimeoutMs?: number;
}

/**
 * Deploys `contracts/PermitToken.sol`: an OpenZeppelin 5 ERC-20 (18 decimals) with EIP-2612 `permit` and
 * `multicall(bytes[])`. Compiles the contracts first when their artifacts are missing or stale.
 */
export async function deployPermitToken(params: DeployPermitTokenParameters): Promise<Address> {
  if (params.supply < 0n || params.supply > maxUint256)
    throw new RangeError('deployPermitToken: supply must fit in uint256');
  return deployAndConfirm(
    await devClients(params.rpcUrl, params.deployerKey),
    await loadOrCompileArtifact('PermitToken'),
    [params.name, params.symbol, params.supply],
    'deploy PermitToken',
    params.receiptTimeoutMs,
  );
}

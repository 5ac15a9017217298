import type { Address } from 'viem';
import { loadOrCompileArtifact } from './artifacts.ts';
import { assertUint256, devClients, type DevDeployParameters } from './dev-clients.ts';

/** Parameters of {@link deployTestToken}. */
export interface DeployTestTokenParameters extends DevDeployParameters {
  /** ERC-20 name, e.g. `'Test USD'`. */
  name: string;
  /** ERC-20 symbol, e.g. `'TUSD'`. */
  symbol: string;
  /** ERC-20 decimals, an integer 0..255, e.g. `6`. */
  decimals: number;
  /** Initial supply in base units (already scaled by 10^decimals), minted to the deployer (who receives it all). */
  supply: bigint;
}

/**
 * Deploys `contracts/TestToken.sol` (an OpenZeppelin 5 ERC-20) and waits for its receipt. Compiles the contracts
 * first when their artifacts are missing or stale.
 *
 * @returns the token's address.
 * @throws Error when the deployment reverts or no receipt arrives in time.
 * @example
 * ```ts
 * const token = await deployTestToken({
 *   rpcUrl: anvil.rpcUrl, deployerKey: ANVIL_ACCOUNTS[0].privateKey,
 *   name: 'Test USD', symbol: 'TUSD', decimals: 6, supply: 1_000_000n * 10n ** 6n,
 * });
 * ```
 */
export async function deployTestToken(params: DeployTestTokenParameters): Promise<Address> {
  const { rpcUrl, deployerKey, name, symbol, decimals, supply } = params;
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 255) {
    throw new RangeError(`deployTestToken: decimals must be an integer in 0..255, got ${decimals}`);
  }
  assertUint256('deployTestToken', 'supply', supply);
  const { abi, bytecode } = await loadOrCompileArtifact('TestToken');
  const { publicClient, wallet } = await devClients(rpcUrl, deployerKey);
  const hash = await wallet.deployContract({ abi, bytecode, args: [name, symbol, decimals, supply] });
  const receipt = await publicClient.waitForTransactionReceipt({
    hash,
    pollingInterval: 50,
    timeout: params.receiptTimeoutMs ?? 60_000,
  });
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new Error(
      `deployTestToken: deployment ${hash} ${receipt.status === 'success' ? 'created no contract' : 'reverted'}`,
    );
  }
  return receipt.contractAddress;
}

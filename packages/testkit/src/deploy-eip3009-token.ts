import type { Address } from 'viem';
import { assertUint256, deployCompiledContract, type DevDeployParameters } from './dev-clients.ts';

/** Parameters of {@link deployEip3009Token}. */
export interface DeployEip3009TokenParameters extends DevDeployParameters {
  /** ERC-20 name, also the EIP-712 domain name, e.g. `'USD Coin'`. */
  name: string;
  symbol: string;
  /** The EIP-712 domain version, e.g. `'2'` as USDC. */
  version: string;
  /** In base units (6 decimals), minted to the deployer. */
  supply: bigint;
}

/**
 * Deploys `contracts/Eip3009Token.sol`: a USDC-like ERC-20 (6 decimals) with EIP-3009 `transferWithAuthorization`
 * (both the `(v, r, s)` and the `bytes signature` overloads), `receiveWithAuthorization`, `cancelAuthorization` and
 * `authorizationState`, for x402 payments on a dev chain. Compiles the contracts first when their artifacts are
 * missing or stale.
 *
 * @example
 * ```ts
 * const usdc = await deployEip3009Token({ rpcUrl, deployerKey, name: 'USD Coin', symbol: 'USDC', version: '2', supply: 10n ** 12n });
 * ```
 */
export async function deployEip3009Token(params: DeployEip3009TokenParameters): Promise<Address> {
  assertUint256('deployEip3009Token', 'supply', params.supply);
  return deployCompiledContract('Eip3009Token', params, [params.name, params.symbol, params.version, params.supply]);
}

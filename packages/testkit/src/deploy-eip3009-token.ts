import { maxUint256, type Address, type Hex } from 'viem';
import { loadOrCompileArtifact } from './artifacts.ts';
import { deployAndConfirm, devClients } from './dev-clients.ts';

/** Parameters of {@link deployEip3009Token}. */
export interface DeployEip3009TokenParameters {
  rpcUrl: string;
  deployerKey: Hex;
  /** ERC-20 name, also the EIP-712 domain name, e.g. `'USD Coin'`. */
  name: string;
  symbol: string;
  /** The EIP-712 domain version, e.g. `'2'` as USDC. */
  version: string;
  /** In base units (6 decimals), minted to the deployer. */
  supply: bigint;
  receiptTimeoutMs?: number;
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
  if (params.supply < 0n || params.supply > maxUint256)
    throw new RangeError('deployEip3009Token: supply must fit in uint256');
  return deployAndConfirm(
    await devClients(params.rpcUrl, params.deployerKey),
    await loadOrCompileArtifact('Eip3009Token'),
    [params.name, params.symbol, params.version, params.supply],
    'deploy Eip3009Token',
    params.receiptTimeoutMs,
  );
}

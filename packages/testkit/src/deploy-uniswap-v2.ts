import { createRequire } from 'node:module';
import { getContractAddress, type Abi, type Address, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { deployAndConfirm, devClients, type DevDeployParameters, writeAndConfirm } from './dev-clients.ts';

const require = createRequire(import.meta.url);

/** The contracts of a Uniswap V2 deployment, as published on npm by Uniswap (`@uniswap/v2-core`, `@uniswap/v2-periphery`). */
export type UniswapV2ContractName = 'WETH9' | 'UniswapV2Factory' | 'UniswapV2Router02' | 'UniswapV2Pair' | 'ERC20';

const ARTIFACT_PATHS: Record<UniswapV2ContractName, string> = {
  WETH9: '@uniswap/v2-periphery/build/WETH9.json',
  UniswapV2Router02: '@uniswap/v2-periphery/build/UniswapV2Router02.json',
  UniswapV2Factory: '@uniswap/v2-core/build/UniswapV2Factory.json',
  UniswapV2Pair: '@uniswap/v2-core/build/UniswapV2Pair.json',
  ERC20: '@uniswap/v2-core/build/ERC20.json',
};

/**
 * ABI and creation bytecode of a Uniswap V2 contract, read from the npm packages' `build/*.json` artifacts (the
 * bytecode Uniswap compiled and published; the router's pair init-code hash matches the published pair's).
 */
export function uniswapV2Artifact(name: UniswapV2ContractName): { abi: Abi; bytecode: Hex } {
  const artifact = require(ARTIFACT_PATHS[name]) as { abi: Abi; bytecode: string };
  const bytecode = (artifact.bytecode.startsWith('0x') ? artifact.bytecode : `0x${artifact.bytecode}`) as Hex;
  return { abi: artifact.abi, bytecode };
}

/** Addresses of a Uniswap V2 deployment. */
export interface UniswapV2Deployment {
  weth: Address;
  factory: Address;
  router: Address;
}

/** Parameters of {@link deployUniswapV2}: the deployer is also the factory's `feeToSetter`. */
export type DeployUniswapV2Parameters = DevDeployParameters;

/**
 * The addresses {@link deployUniswapV2} will deploy to when the deployer's next nonce is `nonce`: WETH9 at `nonce`,
 * the factory at `nonce + 1`, the router at `nonce + 2`. Lets a test configure a gateway before deploying.
 */
export function predictUniswapV2Addresses(deployer: Address, nonce: number): UniswapV2Deployment {
  const at = (n: number): Address => getContractAddress({ from: deployer, nonce: BigInt(n) });
  return { weth: at(nonce), factory: at(nonce + 1), router: at(nonce + 2) };
}

/**
 * Deploys WETH9, UniswapV2Factory and UniswapV2Router02 from Uniswap's npm artifacts, in that order, from one
 * account, and waits for each receipt.
 *
 * @example
 * ```ts
 * const { router, weth } = await deployUniswapV2({ rpcUrl: anvil.rpcUrl, deployerKey: ANVIL_ACCOUNTS[8].privateKey });
 * ```
 */
export async function deployUniswapV2(params: DeployUniswapV2Parameters): Promise<UniswapV2Deployment> {
  const clients = await devClients(params.rpcUrl, params.deployerKey);
  const deployer = privateKeyToAccount(params.deployerKey).address;
  const deploy = (name: UniswapV2ContractName, args: readonly unknown[]): Promise<Address> =>
    deployAndConfirm(clients, uniswapV2Artifact(name), args, `deploy ${name}`, params.receiptTimeoutMs);
  const weth = await deploy('WETH9', []);
  const factory = await deploy('UniswapV2Factory', [deployer]);
  const router = await deploy('UniswapV2Router02', [factory, weth]);
  return { weth, factory, router };
}

/** Parameters of {@link addLiquidityEth}. */
export interface AddLiquidityEthParameters {
  rpcUrl: string;
  /** Holder of `tokenAmount` of `token` and `ethAmount` wei; receives the LP tokens. */
  providerKey: Hex;
  router: Address;
  token: Address;
  tokenAmount: bigint;
  ethAmount: bigint;
  receiptTimeoutMs?: number;
}

/**
 * Creates (or tops up) the token/WETH pool: approves the router for `tokenAmount`, then `addLiquidityETH` at exactly
 * the given amounts (the first deposit sets the price: `ethAmount` wei for `tokenAmount` base units).
 */
export async function addLiquidityEth(params: AddLiquidityEthParameters): Promise<void> {
  const clients = await devClients(params.rpcUrl, params.providerKey);
  const { abi: erc20 } = uniswapV2Artifact('ERC20');
  const { abi: routerAbi } = uniswapV2Artifact('UniswapV2Router02');
  const approve = {
    address: params.token,
    abi: erc20,
    functionName: 'approve',
    args: [params.router, params.tokenAmount],
  };
  await writeAndConfirm(clients, approve, 'approve the router', params.receiptTimeoutMs);
  const block = await clients.publicClient.getBlock();
  // With gas headroom: a top-up a second after the pool's last update also pays for the pair's price accumulators.
  const add = {
    address: params.router,
    abi: routerAbi,
    functionName: 'addLiquidityETH',
    args: [params.token, params.tokenAmount, 0n, 0n, clients.wallet.account.address, block.timestamp + 3600n],
    value: params.ethAmount,
  };
  await writeAndConfirm(clients, add, 'addLiquidityETH', params.receiptTimeoutMs);
}

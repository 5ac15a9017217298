/**
 * The test Uniswap V2 deployment the swap tests trade on: router, factory and WETH deployed by anvil's dev account 8,
 * a pool of 1,000 ETH against 2,000,000 TUSD (the registry's own 2,000 USD per ETH), and 1,000 TUSD held by the signer
 * key with a registry price, like an operator would add.
 */
import assert from 'node:assert/strict';
import { parseEther, parseUnits, type Address, type Hex } from 'viem';
import { ANVIL_ACCOUNTS, addLiquidityEth, deployUniswapV2, predictUniswapV2Addresses } from '@clawd402/testkit';
import type { Stack } from './stack.ts';
import { deployTestUsd, fundSigner, registerTestUsd } from './test-usd.ts';

/** Anvil's public, well-known dev account 8 (never real funds) deploys Uniswap V2 and provides the liquidity. */
export const UNISWAP_DEPLOYER = ANVIL_ACCOUNTS[8];
/** Deployed first by account 8 (nonces 0–2), so the gateway can be configured with the router before it exists. */
export const UNISWAP = predictUniswapV2Addresses(UNISWAP_DEPLOYER.address, 0);
/** Gateway environment that makes the router the chain's swap router (pass to startStack). */
export const UNISWAP_ENV = { SWAP_ROUTERS: `31337=${UNISWAP.router}` };

/** Deploys Uniswap V2 and TUSD on the stack's anvil, adds the pool, funds and registers TUSD; answers TUSD's address. */
export async function setUpUniswap(stack: Stack): Promise<Address> {
  const deployerKey = UNISWAP_DEPLOYER.privateKey as Hex;
  const deployed = await deployUniswapV2({ rpcUrl: stack.anvil.rpcUrl, deployerKey });
  assert.deepEqual(deployed, UNISWAP);
  const tusd = await deployTestUsd(stack, deployerKey, '10000000');
  await addLiquidityEth({
    rpcUrl: stack.anvil.rpcUrl,
    providerKey: deployerKey,
    router: UNISWAP.router,
    token: tusd,
    tokenAmount: parseUnits('2000000', 6),
    ethAmount: parseEther('1000'),
  });
  await fundSigner(stack, deployerKey, [[tusd, parseUnits('1000', 6)]]);
  await registerTestUsd(stack, tusd);
  return tusd;
}

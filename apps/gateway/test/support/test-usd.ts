/** TUSD for the gateway tests: a 6-decimal test token, some of it held by the signer key, priced at 1 USD. */
import { createWalletClient, erc20Abi, getAddress, http, parseUnits, type Address, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { deployTestToken } from '@clawd402/testkit';
import { upsertAsset } from '../../src/repositories/assets-repository.ts';
import type { Stack } from './stack.ts';

/** Deploys "Test USD" (TUSD, 6 decimals) with `supply` whole tokens, all held by `deployerKey`'s account. */
export function deployTestUsd(stack: Stack, deployerKey: Hex, supply: string): Promise<Address> {
  return deployTestToken({
    rpcUrl: stack.anvil.rpcUrl,
    deployerKey,
    name: 'Test USD',
    symbol: 'TUSD',
    decimals: 6,
    supply: parseUnits(supply, 6),
  });
}

/** Sends `amount` (base units) of each ERC-20 `asset` from `fromKey`'s account to the signer key, mined. */
export async function fundSigner(stack: Stack, fromKey: Hex, grants: readonly (readonly [Address, bigint])[]) {
  const from = createWalletClient({ account: privateKeyToAccount(fromKey), transport: http(stack.anvil.rpcUrl) });
  for (const [asset, amount] of grants) {
    const hash = await from.writeContract({
      address: asset,
      abi: erc20Abi,
      functionName: 'transfer',
      args: [stack.signerAddress, amount],
      chain: null,
    });
    await stack.chain.waitForTransactionReceipt({ hash });
  }
}

/** Gives TUSD at `asset` a registry entry at a static 1 USD, like an operator would add, so intents are valued. */
export async function registerTestUsd(stack: Stack, asset: Address): Promise<void> {
  await upsertAsset(
    stack.pool,
    {
      chainId: 31337,
      asset: getAddress(asset),
      symbol: 'TUSD',
      decimals: 6,
      priceSource: { kind: 'static', usd: '1', maxAgeSeconds: null },
    },
    'system:test',
  );
}

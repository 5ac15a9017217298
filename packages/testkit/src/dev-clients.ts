import {
  type Abi,
  type Address,
  type Hex,
  type PublicClient,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  maxUint256,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { loadOrCompileArtifact } from './artifacts.ts';

/** What every deploy helper takes besides the contract's own constructor arguments. */
export interface DevDeployParameters {
  /** JSON-RPC endpoint of a dev chain, e.g. `anvil.rpcUrl`. */
  rpcUrl: string;
  /** Private key of the deployer, e.g. `ANVIL_ACCOUNTS[0].privateKey`. */
  deployerKey: Hex;
  /** How long to wait for each receipt. Default: 60 000 ms (a `noMining` chain needs a mine call). */
  receiptTimeoutMs?: number;
}

/**
 * A public client and a wallet client for `key` on the dev chain at `rpcUrl` (chain id read from the node), polling
 * every 50 ms: what the deploy helpers and {@link writeAndConfirm} take.
 */
export async function devClients(rpcUrl: string, key: Hex) {
  const transport = http(rpcUrl);
  const publicClient = createPublicClient({ transport, pollingInterval: 50 }) as PublicClient;
  const chainId = await publicClient.getChainId();
  const chain = defineChain({
    id: chainId,
    name: `dev chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  return { publicClient, wallet: createWalletClient({ account: privateKeyToAccount(key), chain, transport }) };
}

/**
 * Waits for the receipt of `hash` and throws, naming `what`, unless it succeeded. The error gives the gas used against
 * the transaction's limit (equal: it ran out of gas) and the block, so that a rare failure can be told apart.
 */
export async function confirm(publicClient: PublicClient, hash: Hex, what: string, timeoutMs = 60_000) {
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50, timeout: timeoutMs });
  if (receipt.status !== 'success') {
    const limit = await publicClient
      .getTransaction({ hash })
      .then((tx) => tx.gas.toString())
      .catch(() => 'unknown');
    throw new Error(
      `${what}: transaction ${hash} reverted (gas used ${receipt.gasUsed} of limit ${limit}, block ${receipt.blockNumber})`,
    );
  }
  return receipt;
}

/** What {@link writeAndConfirm} calls: a contract function, its arguments and the wei it sends. */
export interface DevWrite {
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  value?: bigint;
}

/**
 * Calls `write.functionName` from the clients' wallet with a gas limit of the node's estimate plus a quarter, waits
 * for the receipt (`confirm`, naming `what`) and answers it.
 *
 * The headroom is needed: anvil estimates against a pending block that may carry the latest block's timestamp, and
 * the transaction can be mined a second later. A contract that stores `block.timestamp` then pays for a changed slot
 * instead of an unchanged one: Chainlink's mock `updateAnswer` estimates at 100,639 gas in the feed's own second and
 * needs 103,439 one second later, so an exact estimate runs out of gas (the gateway's own signing path keeps a margin
 * over its simulation for the same reason: intent-path/05-simulate.ts).
 */
export async function writeAndConfirm(
  { publicClient, wallet }: Awaited<ReturnType<typeof devClients>>,
  write: DevWrite,
  what: string,
  timeoutMs?: number,
) {
  const request = { ...write, account: wallet.account };
  const estimate = await publicClient.estimateContractGas(request);
  const hash = await wallet.writeContract({ ...request, chain: wallet.chain, gas: estimate + estimate / 4n });
  return confirm(publicClient, hash, what, timeoutMs);
}

/**
 * Deploys `artifact` with constructor `args` from the clients' wallet, waits for the receipt (`confirm`, naming
 * `what`) and answers the new contract's checksummed address; throws, naming `what`, when no contract was created.
 */
export async function deployAndConfirm(
  { publicClient, wallet }: Awaited<ReturnType<typeof devClients>>,
  artifact: { abi: Abi; bytecode: Hex },
  args: readonly unknown[],
  what: string,
  timeoutMs?: number,
): Promise<Address> {
  const hash = await wallet.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args });
  const receipt = await confirm(publicClient, hash, what, timeoutMs);
  if (!receipt.contractAddress) throw new Error(`${what}: transaction ${hash} created no contract`);
  return getAddress(receipt.contractAddress);
}

/**
 * Deploys the testkit contract `contractName` (compiled first when its artifact is missing or stale) with constructor
 * `args` from `params.deployerKey`, as {@link deployAndConfirm} naming it `deploy <contractName>`.
 */
export async function deployCompiledContract(
  contractName: string,
  params: DevDeployParameters,
  args: readonly unknown[],
): Promise<Address> {
  return deployAndConfirm(
    await devClients(params.rpcUrl, params.deployerKey),
    await loadOrCompileArtifact(contractName),
    args,
    `deploy ${contractName}`,
    params.receiptTimeoutMs,
  );
}

/** Throws a RangeError, `<fn>: <what> must fit in uint256`, unless `value` is in 0..2^256-1. */
export function assertUint256(fn: string, what: string, value: bigint): void {
  if (value < 0n || value > maxUint256) throw new RangeError(`${fn}: ${what} must fit in uint256`);
}

import { type Address, type Hex, createPublicClient, http } from 'viem';
import { loadOrCompileArtifact } from './artifacts.ts';
import {
  assertUint256,
  confirm,
  devClients,
  type DevDeployParameters,
  type DevWrite,
  writeAndConfirm,
} from './dev-clients.ts';

/** Parameters of {@link deployPriceFeed}. */
export interface DeployPriceFeedParameters extends DevDeployParameters {
  /** Decimals of the feed's answer, an integer 0..255; Chainlink's USD feeds use 8. */
  decimals: number;
  /** The first answer, scaled by 10^decimals (e.g. `2000n * 10n ** 8n` for 2,000 USD); may be 0 or negative. */
  answer: bigint;
}

/** Parameters of {@link updatePriceFeed}. */
export interface UpdatePriceFeedParameters {
  rpcUrl: string;
  /** Any funded key: the mock has no access control. */
  senderKey: Hex;
  /** The feed's address, from {@link deployPriceFeed}. */
  feed: Address;
  /** The new answer, scaled by the feed's decimals; may be 0 or negative. */
  answer: bigint;
  /**
   * The round's `updatedAt` (and `startedAt`), in Unix seconds. Default: the block's timestamp (`updateAnswer`).
   * Set it in the past to make the feed stale without moving the chain's clock (`updateRoundData`).
   */
  updatedAt?: bigint;
  receiptTimeoutMs?: number;
}

/** What `latestRoundData()` answers. */
export interface PriceFeedRound {
  roundId: bigint;
  answer: bigint;
  startedAt: bigint;
  updatedAt: bigint;
  answeredInRound: bigint;
}

/**
 * Deploys Chainlink's `MockV3Aggregator` (compiled from `@chainlink/contracts` source with solc from npm; an
 * `AggregatorV2V3Interface`: `decimals()`, `latestRoundData()`, …) and waits for its receipt. Its first round is
 * stamped with the deployment block's timestamp. Compiles the contracts first when their artifacts are missing or stale.
 *
 * @returns the feed's address.
 * @throws Error when the deployment reverts or no receipt arrives in time.
 * @example
 * ```ts
 * const feed = await deployPriceFeed({ rpcUrl: anvil.rpcUrl, deployerKey: ANVIL_ACCOUNTS[0].privateKey, decimals: 8, answer: 2000n * 10n ** 8n });
 * ```
 */
export async function deployPriceFeed(params: DeployPriceFeedParameters): Promise<Address> {
  const { rpcUrl, deployerKey, decimals, answer } = params;
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 255) {
    throw new RangeError(`deployPriceFeed: decimals must be an integer in 0..255, got ${decimals}`);
  }
  checkInt256('deployPriceFeed', answer);
  const { abi, bytecode } = await loadOrCompileArtifact('MockV3Aggregator');
  const { publicClient, wallet } = await devClients(rpcUrl, deployerKey);
  const hash = await wallet.deployContract({ abi, bytecode, args: [decimals, answer] });
  const receipt = await confirm(publicClient, hash, 'deployPriceFeed', params.receiptTimeoutMs);
  if (!receipt.contractAddress) throw new Error(`deployPriceFeed: deployment ${hash} created no contract`);
  return receipt.contractAddress;
}

/**
 * Sets a new latest round on a feed from {@link deployPriceFeed}: `updateAnswer(answer)` (stamped now), or, with
 * `updatedAt`, `updateRoundData(latestRound + 1, answer, updatedAt, updatedAt)`, with gas headroom
 * ({@link writeAndConfirm}). Waits for the receipt.
 *
 * @returns the feed's `latestRoundData()` after the update.
 * @example
 * ```ts
 * // A feed last updated two hours ago (by the chain's clock):
 * const block = await client.getBlock();
 * await updatePriceFeed({ rpcUrl, senderKey, feed, answer: 2000n * 10n ** 8n, updatedAt: block.timestamp - 7200n });
 * ```
 */
export async function updatePriceFeed(params: UpdatePriceFeedParameters): Promise<PriceFeedRound> {
  const { rpcUrl, senderKey, feed, answer, updatedAt } = params;
  checkInt256('updatePriceFeed', answer);
  if (updatedAt !== undefined) assertUint256('updatePriceFeed', 'updatedAt', updatedAt);
  const { abi } = await loadOrCompileArtifact('MockV3Aggregator');
  const clients = await devClients(rpcUrl, senderKey);
  let write: DevWrite;
  if (updatedAt === undefined) {
    write = { address: feed, abi, functionName: 'updateAnswer', args: [answer] };
  } else {
    const latestRound = (await clients.publicClient.readContract({
      address: feed,
      abi,
      functionName: 'latestRound',
    })) as bigint;
    write = {
      address: feed,
      abi,
      functionName: 'updateRoundData',
      args: [latestRound + 1n, answer, updatedAt, updatedAt],
    };
  }
  await writeAndConfirm(clients, write, 'updatePriceFeed', params.receiptTimeoutMs);
  return readPriceFeed(rpcUrl, feed);
}

/** Reads a feed's `latestRoundData()`. */
export async function readPriceFeed(rpcUrl: string, feed: Address): Promise<PriceFeedRound> {
  const { abi } = await loadOrCompileArtifact('MockV3Aggregator');
  const client = createPublicClient({ transport: http(rpcUrl) });
  const [roundId, answer, startedAt, updatedAt, answeredInRound] = (await client.readContract({
    address: feed,
    abi,
    functionName: 'latestRoundData',
  })) as readonly [bigint, bigint, bigint, bigint, bigint];
  return { roundId, answer, startedAt, updatedAt, answeredInRound };
}

function checkInt256(fn: string, value: bigint): void {
  if (value < -(2n ** 255n) || value >= 2n ** 255n) throw new RangeError(`${fn}: answer must fit in int256`);
}

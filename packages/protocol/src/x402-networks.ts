/** x402 v1 network names of EVM chains (v2 writes CAIP-2 `eip155:<chainId>`). */
const V1_NETWORKS: Readonly<Record<string, number>> = Object.freeze({
  base: 8453,
  'base-sepolia': 84532,
  ethereum: 1,
  sepolia: 11155111,
  polygon: 137,
  'polygon-amoy': 80002,
  avalanche: 43114,
  'avalanche-fuji': 43113,
});

const CAIP2_EVM = /^eip155:([1-9][0-9]{0,15})$/;

/**
 * The chain id an x402 requirement's `network` names: CAIP-2 `eip155:<chainId>` (v2), or one of the v1 names above;
 * undefined for anything else. Read by the SDK when it picks a requirement and by the gateway when it checks one, so
 * both read a network the same way.
 */
export function x402NetworkChainId(network: unknown): number | undefined {
  if (typeof network !== 'string') return undefined;
  const caip = CAIP2_EVM.exec(network);
  if (caip) return Number(caip[1]);
  return Object.hasOwn(V1_NETWORKS, network) ? V1_NETWORKS[network] : undefined;
}

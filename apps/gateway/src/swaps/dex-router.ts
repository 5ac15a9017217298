import type { Address, Hex } from 'viem';

/** Which side of a swap is the chain's native coin (the router wraps and unwraps it). */
export type SwapLeg = 'native' | 'token';

/** The exact-input swap a router is asked to encode. */
export interface SwapCallParameters {
  input: SwapLeg;
  output: SwapLeg;
  amountIn: bigint;
  /** The least output the swap may return; the router reverts below it. */
  amountOutMin: bigint;
  /** Token path; native legs as the router's wrapped native token. */
  path: readonly Address[];
  /** Who receives the output. */
  recipient: Address;
  /** Unix seconds; the router reverts after it. */
  deadline: bigint;
}

/**
 * What the swap planner needs from a DEX router, so that another router family (Uniswap V3, Aerodrome, …) is one more
 * adapter file. Implementations read the chain; they never sign or send anything.
 */
export interface DexRouter {
  readonly address: Address;
  /** The wrapped native token the router routes native legs through (WETH). */
  wrappedNative(): Promise<Address>;
  /**
   * The output of selling `amountIn` along `path` at the latest block, or null when the router cannot quote it (no
   * pool, no liquidity). An RPC that does not answer throws `chain_unavailable`.
   */
  quote(amountIn: bigint, path: readonly Address[]): Promise<bigint | null>;
  /** The router call for an exact-input swap. */
  encodeSwap(parameters: SwapCallParameters): { value: bigint; data: Hex };
}

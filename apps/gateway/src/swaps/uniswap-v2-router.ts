import {
  BaseError,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  encodeFunctionData,
  getAddress,
  parseAbi,
  type Address,
  type Hex,
  type PublicClient,
} from 'viem';
import { Clawd402Error } from '@clawd402/protocol';
import type { DexRouter, SwapCallParameters } from './dex-router.ts';

/** The part of UniswapV2Router02 the gateway uses (forks such as SushiSwap's and PancakeSwap's share it). */
export const UNISWAP_V2_ROUTER_ABI = parseAbi([
  'function WETH() view returns (address)',
  'function getAmountsOut(uint256 amountIn, address[] path) view returns (uint256[] amounts)',
  'function swapExactETHForTokens(uint256 amountOutMin, address[] path, address to, uint256 deadline) payable returns (uint256[] amounts)',
  'function swapExactTokensForETH(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline) returns (uint256[] amounts)',
  'function swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline) returns (uint256[] amounts)',
]);

/**
 * A Uniswap V2-style router: quotes with `getAmountsOut`, swaps with the `swapExact*` functions (exact input, output
 * bounded below by `amountOutMin`, `deadline` checked on chain). `WETH()` is read once.
 */
export class UniswapV2Router implements DexRouter {
  private weth: Promise<Address> | null = null;

  constructor(
    private readonly client: PublicClient,
    readonly address: Address,
    private readonly chainId: number,
  ) {}

  wrappedNative(): Promise<Address> {
    if (this.weth === null) {
      const pending = this.client
        .readContract({ address: this.address, abi: UNISWAP_V2_ROUTER_ABI, functionName: 'WETH' })
        .then((a) => getAddress(a));
      pending.catch(() => {
        if (this.weth === pending) this.weth = null;
      });
      this.weth = pending;
    }
    return this.weth.catch((cause: unknown) => {
      if (
        cause instanceof BaseError &&
        cause.walk((e) => e instanceof ContractFunctionRevertedError || e instanceof ContractFunctionZeroDataError)
      ) {
        throw new Clawd402Error(
          'swap_unsupported',
          `The router configured for chain ${this.chainId} does not answer WETH().`,
          {
            details: { chainId: this.chainId, router: this.address },
            cause,
          },
        );
      }
      throw new Clawd402Error('chain_unavailable', `The RPC for chain ${this.chainId} did not answer.`, {
        details: { chainId: this.chainId },
        cause,
      });
    });
  }

  async quote(amountIn: bigint, path: readonly Address[]): Promise<bigint | null> {
    try {
      const amounts = await this.client.readContract({
        address: this.address,
        abi: UNISWAP_V2_ROUTER_ABI,
        functionName: 'getAmountsOut',
        args: [amountIn, [...path]],
      });
      const out = amounts[amounts.length - 1];
      return out === undefined || out === 0n ? null : out;
    } catch (error) {
      // A missing pair or an empty pool reverts (the library calls getReserves on an address without code).
      if (
        error instanceof BaseError &&
        error.walk((e) => e instanceof ContractFunctionRevertedError || e instanceof ContractFunctionZeroDataError)
      ) {
        return null;
      }
      throw new Clawd402Error('chain_unavailable', `The RPC for chain ${this.chainId} did not answer.`, {
        details: { chainId: this.chainId },
        cause: error,
      });
    }
  }

  encodeSwap(p: SwapCallParameters): { value: bigint; data: Hex } {
    const path = [...p.path];
    if (p.input === 'native') {
      return {
        value: p.amountIn,
        data: encodeFunctionData({
          abi: UNISWAP_V2_ROUTER_ABI,
          functionName: 'swapExactETHForTokens',
          args: [p.amountOutMin, path, p.recipient, p.deadline],
        }),
      };
    }
    const functionName = p.output === 'native' ? 'swapExactTokensForETH' : 'swapExactTokensForTokens';
    return {
      value: 0n,
      data: encodeFunctionData({
        abi: UNISWAP_V2_ROUTER_ABI,
        functionName,
        args: [p.amountIn, p.amountOutMin, path, p.recipient, p.deadline],
      }),
    };
  }
}

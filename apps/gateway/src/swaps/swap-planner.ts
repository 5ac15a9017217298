import type { PlannedSwap } from '../domain/intent.ts';
import type { Address } from 'viem';
import {
  Clawd402Error,
  formatAmount,
  parseAddress,
  parseAmount,
  assertDecimalString,
  type SwapIntentBody,
} from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { PriceBook } from '../money/price-book.ts';
import type { DexRouter } from './dex-router.ts';
import { UniswapV2Router } from './uniswap-v2-router.ts';

const NATIVE_DECIMALS = 18;
const BPS = 10_000n;
/** At most 50 %: a bound wider than that protects nothing. */
const MAX_SLIPPAGE_BPS = 5_000n;
const SLIPPAGE = /^(?:0|[1-9][0-9]?)(?:\.[0-9]{1,2})?$/;

/** Swap settings (config.ts: SWAP_ROUTERS, SWAP_MAX_DEADLINE_SECONDS). */
export interface SwapSettings {
  /** Uniswap V2-style router per chain id. */
  routers: ReadonlyMap<number, Address>;
  /** How far ahead a deadline may be. */
  maxDeadlineSeconds: number;
}

/** A swap ready to be priced, simulated and signed: the router call and the bounds it carries. */

/**
 * Turns a `swap` intent into a router call (docs/swaps.md): validate the fields, quote with the router
 * (`getAmountsOut`, directly or through the wrapped native token), derive the minimum output from the slippage bound
 * against the quote and, when both assets have a registry price, against the reference price (so a pool pushed away
 * from the market cannot pass), and encode an exact-input swap paying the signer itself, with the deadline on chain.
 * Reads the chain; never signs. An ERC-20 input needs the router's allowance, which the simulation stage checks.
 */
export class SwapPlanner {
  private readonly routers = new Map<number, DexRouter>();

  constructor(
    private readonly deps: { chains: ChainRegistry; prices: PriceBook; settings: SwapSettings; now?: () => number },
  ) {}

  /** The router for a chain, or null when none is configured. */
  router(chainId: number): DexRouter | null {
    const existing = this.routers.get(chainId);
    if (existing) return existing;
    const address = this.deps.settings.routers.get(chainId);
    if (address === undefined || !this.deps.chains.has(chainId)) return null;
    const router = new UniswapV2Router(this.deps.chains.client(chainId), address, chainId);
    this.routers.set(chainId, router);
    return router;
  }

  async plan(body: SwapIntentBody, recipient: Address): Promise<PlannedSwap> {
    const { chains } = this.deps;
    const chainId = body.chainId;
    const router = this.router(chainId);
    if (router === null)
      throw new Clawd402Error('swap_unsupported', `No DEX router is configured for chain ${chainId}.`, {
        details: { chainId },
      });

    const deadline = this.checkDeadline(body.deadline);
    const slippageBps = parseSlippage(body.maxSlippagePercent);
    const inputAsset = body.inputAsset === 'native' ? 'native' : parseAddress('inputAsset', body.inputAsset);
    const outputAsset = body.outputAsset === 'native' ? 'native' : parseAddress('outputAsset', body.outputAsset);
    assertDecimalString('inputAmount', body.inputAmount); // refuse bad syntax before asking the chain anything

    const [weth, inputDecimals, outputDecimals] = await Promise.all([
      router.wrappedNative(),
      inputAsset === 'native' ? NATIVE_DECIMALS : chains.tokenDecimals(chainId, inputAsset),
      outputAsset === 'native' ? NATIVE_DECIMALS : chains.tokenDecimals(chainId, outputAsset),
    ]);
    const amountIn = parseAmount('inputAmount', body.inputAmount, inputDecimals);
    if (amountIn === 0n)
      throw new Clawd402Error('amount_zero', 'A swap must sell more than zero.', { details: { field: 'inputAmount' } });
    const tokenIn = inputAsset === 'native' ? weth : inputAsset;
    const tokenOut = outputAsset === 'native' ? weth : outputAsset;
    if (tokenIn === tokenOut) {
      throw new Clawd402Error(
        'invalid_request',
        'inputAsset and outputAsset must be different assets (wrapping is a contract_call to the wrapped token).',
        {
          details: { field: 'outputAsset' },
        },
      );
    }

    const [route, reference] = await Promise.all([
      this.route(router, amountIn, tokenIn, tokenOut, weth),
      this.referenceOutput(chainId, inputAsset, inputDecimals, outputAsset, outputDecimals, amountIn),
    ]);
    if (route === null) {
      throw new Clawd402Error(
        'swap_no_route',
        `The router has no pool for ${inputAsset} → ${outputAsset} on chain ${chainId}.`,
        {
          details: { chainId, inputAsset, outputAsset },
        },
      );
    }
    const bound = (x: bigint): bigint => (x * (BPS - slippageBps)) / BPS;
    const minOutput = reference === null ? bound(route.out) : max(bound(route.out), bound(reference));
    const call = router.encodeSwap({
      input: inputAsset === 'native' ? 'native' : 'token',
      output: outputAsset === 'native' ? 'native' : 'token',
      amountIn,
      amountOutMin: minOutput,
      path: route.path,
      recipient,
      deadline: BigInt(deadline),
    });
    return Object.freeze({
      router: router.address,
      inputAsset,
      outputAsset,
      inputAmount: amountIn,
      inputDecimals,
      outputDecimals,
      path: Object.freeze([...route.path]),
      quotedOutput: route.out,
      referenceOutput: reference,
      minOutput,
      slippageBps,
      deadline,
      call: Object.freeze({ to: router.address, value: call.value, data: call.data }),
      view: {
        router: router.address,
        inputAsset,
        inputAmount: formatAmount(amountIn, inputDecimals),
        outputAsset,
        path: [...route.path],
        quotedOutput: formatAmount(route.out, outputDecimals),
        referenceOutput: reference === null ? null : formatAmount(reference, outputDecimals),
        minOutput: formatAmount(minOutput, outputDecimals),
        maxSlippagePercent: body.maxSlippagePercent,
        deadline,
      },
    });
  }

  private checkDeadline(deadline: number): number {
    const now = Math.floor((this.deps.now?.() ?? Date.now()) / 1000);
    if (deadline <= now) {
      throw new Clawd402Error('deadline_passed', `The swap's deadline (${deadline}) has passed; nothing was signed.`, {
        details: { field: 'deadline', deadline, now },
      });
    }
    const max = this.deps.settings.maxDeadlineSeconds;
    if (deadline > now + max) {
      throw new Clawd402Error('invalid_request', `deadline must be at most ${max} seconds from now (unix seconds).`, {
        details: { field: 'deadline', maxSeconds: max },
      });
    }
    return deadline;
  }

  /** The direct pool first; otherwise through the wrapped native token. */
  private async route(
    router: DexRouter,
    amountIn: bigint,
    tokenIn: Address,
    tokenOut: Address,
    weth: Address,
  ): Promise<{ path: Address[]; out: bigint } | null> {
    const direct = [tokenIn, tokenOut];
    const out = await router.quote(amountIn, direct);
    if (out !== null) return { path: direct, out };
    if (tokenIn === weth || tokenOut === weth) return null;
    const hop = [tokenIn, weth, tokenOut];
    const viaWeth = await router.quote(amountIn, hop);
    return viaWeth === null ? null : { path: hop, out: viaWeth };
  }

  /**
   * What `amountIn` is worth in the output asset at the registry's prices (exact, rounded down), or null when either
   * asset has no usable price or the registry's decimals disagree with the chain's.
   */
  private async referenceOutput(
    chainId: number,
    inputAsset: string,
    inputDecimals: number,
    outputAsset: string,
    outputDecimals: number,
    amountIn: bigint,
  ): Promise<bigint | null> {
    const [pin, pout] = await Promise.all([
      this.deps.prices.price(chainId, inputAsset),
      this.deps.prices.price(chainId, outputAsset),
    ]);
    if (
      pin.status !== 'ok' ||
      pout.status !== 'ok' ||
      pin.decimals !== inputDecimals ||
      pout.decimals !== outputDecimals
    )
      return null;
    return (amountIn * pin.micros * 10n ** BigInt(outputDecimals)) / (pout.micros * 10n ** BigInt(inputDecimals));
  }
}

function parseSlippage(text: string): bigint {
  if (!SLIPPAGE.test(text)) {
    throw new Clawd402Error(
      'invalid_request',
      'maxSlippagePercent must be a decimal string such as "0.5" (at most two fractional digits).',
      {
        details: { field: 'maxSlippagePercent' },
      },
    );
  }
  const [whole, fraction = ''] = text.split('.');
  const bps = BigInt(whole!) * 100n + BigInt(fraction.padEnd(2, '0'));
  if (bps > MAX_SLIPPAGE_BPS) {
    throw new Clawd402Error('invalid_request', 'maxSlippagePercent must be at most 50.', {
      details: { field: 'maxSlippagePercent' },
    });
  }
  return bps;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

export type { PlannedSwap } from '../domain/intent.ts';

import type { Address } from 'viem';
import type { ChainRegistry, FeeQuote } from '../chain/chain-registry.ts';
import type { NormalizedIntent } from '../domain/intent.ts';
import type { PriceBook, Valuation } from '../money/price-book.ts';
import type { Decoded } from './04-decode.ts';

const NATIVE_DECIMALS = 18;

/** Gas limit and EIP-1559 fees the transaction will be signed with, and their worst case (gas × max fee) in USD. */
export interface Cost {
  readonly gas: bigint;
  readonly fees: FeeQuote;
  readonly usd: Valuation;
}

export interface ValueDeps {
  chains: ChainRegistry;
  prices: PriceBook;
}

/**
 * Stage 6 — value, in USD (docs/prices.md): what leaves the signer — a transfer's or swap's amount; for a contract
 * call, its native value and the token transfers it declares — and the worst-case network fee. What is reserved
 * against budgets is value + worst-case fee. An asset without a usable price is valued `unknown`/`stale`, never
 * guessed: the decision then refuses anything a USD rule or a budget must count (money fails closed).
 */
export async function valueIntent(deps: ValueDeps, intent: NormalizedIntent, decoded: Decoded): Promise<Valuation> {
  const { prices } = deps;
  if (intent.type !== 'contract_call')
    return prices.value(intent.chainId, intent.asset, intent.amount, intent.decimals);
  const parts: Valuation[] = [await prices.value(intent.chainId, 'native', intent.call.value, NATIVE_DECIMALS)];
  for (const [key, outflow] of decoded.declared) {
    if (key === 'native') continue;
    if (key.includes('#')) {
      parts.push({ status: 'unknown', detail: `The call moves a non-fungible token (${key}); it has no USD price.` });
      continue;
    }
    const decimals = await deps.chains.tokenDecimals(intent.chainId, key as Address).catch(() => null);
    parts.push(
      decimals === null
        ? { status: 'unknown', detail: `Token ${key} does not answer decimals().` }
        : await prices.value(intent.chainId, key, outflow.amount, decimals),
    );
  }
  const failed = parts.find((p) => p.status !== 'ok');
  if (failed) return failed;
  const ok = parts as Extract<Valuation, { status: 'ok' }>[];
  const largest = ok.reduce((a, b) => (b.usd > a.usd ? b : a));
  return { status: 'ok', usd: ok.reduce((sum, p) => sum + p.usd, 0n), price: largest.price };
}

/** What a plain native transfer costs: value to an account whose code does not run (no calldata, no code). */
export const PLAIN_TRANSFER_GAS = 21_000n;

/**
 * The gas limit and fees a transaction from `from` will be signed with, and their worst case in USD. `knownGas`, when
 * given, is a gas estimate already proven (a plain transfer simulated at exactly {@link PLAIN_TRANSFER_GAS}): then
 * `eth_estimateGas` is not asked again.
 */
export async function estimateCost(
  deps: ValueDeps,
  from: Address,
  intent: Pick<NormalizedIntent, 'chainId' | 'call'>,
  knownGas?: bigint,
): Promise<Cost> {
  const { chains, prices } = deps;
  const [gas, fees] = await Promise.all([
    knownGas ?? chains.estimateGas(intent.chainId, { from, ...intent.call }),
    chains.feeQuote(intent.chainId),
  ]);
  const usd = await prices.value(intent.chainId, 'native', gas * fees.maxFeePerGas, NATIVE_DECIMALS);
  return { gas, fees, usd };
}

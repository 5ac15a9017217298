import type pg from 'pg';
import { parseAbi, type Address } from 'viem';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import { listAssets, type AssetEntry } from '../repositories/assets-repository.ts';
import { divCeil, parseUsd, valueOf, type UsdMicros } from '../domain/usd.ts';

/** Chainlink AggregatorV3Interface: the two reads a price needs. */
const AGGREGATOR_ABI = parseAbi([
  'function decimals() view returns (uint8)',
  'function latestRoundData() view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)',
]);

/** A price, or why there is none. `unknown`: no registry entry or the source did not answer; `stale`: too old. */
export type Price =
  | { status: 'ok'; micros: UsdMicros; source: 'static' | 'chainlink'; at: Date; symbol: string; decimals: number }
  | { status: 'unknown' | 'stale'; detail: string };

/** An amount valued in USD, or why it could not be. */
export type Valuation =
  | { status: 'ok'; usd: UsdMicros; price: Extract<Price, { status: 'ok' }> }
  | { status: 'unknown' | 'stale'; detail: string };

const REGISTRY_TTL_MS = 1_000;
const FEED_TTL_MS = 2_000;
/** Clock skew allowed between the chain's timestamps and ours before a feed's update time counts as "in the future". */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/**
 * Prices per (chain, asset) from the asset registry in Postgres: a static price (optionally with a maximum age,
 * counted from its last update) or a Chainlink-style aggregator read over RPC (`latestRoundData`, checked for a
 * positive answer and a staleness bound). The registry is re-read at most once a second, so a change made through
 * any gateway process applies everywhere within a second; aggregator reads are shared for two seconds (staleness is
 * judged on the feed's own `updatedAt`, never on the cache). Every failure is a status, never a guess: the caller
 * fails closed.
 */
export class PriceBook {
  private registry: { at: number; entries: Map<string, AssetEntry> } | null = null;
  private loading: Promise<Map<string, AssetEntry>> | null = null;
  /** Bumped by invalidate(): a registry read started before a change may not be cached after it. */
  private generation = 0;
  private readonly feeds = new Map<
    string,
    { at: number; read: Promise<{ answer: bigint; decimals: number; updatedAt: number }> }
  >();

  constructor(private readonly deps: { pool: pg.Pool; chains: ChainRegistry; now?: () => number }) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Forget the cached registry (after a change made through this process). */
  invalidate(): void {
    this.registry = null;
    this.loading = null;
    this.generation += 1;
  }

  private async entries(): Promise<Map<string, AssetEntry>> {
    const now = Date.now();
    if (this.registry && now - this.registry.at < REGISTRY_TTL_MS) return this.registry.entries;
    if (!this.loading) {
      const generation = this.generation;
      const loading = listAssets(this.deps.pool)
        .then((list) => {
          const entries = new Map(list.map((e) => [`${e.chainId}:${e.asset}`, e]));
          // A read that was in flight when invalidate() ran may hold pre-change rows: answer its callers, cache nothing.
          if (generation === this.generation) this.registry = { at: now, entries };
          return entries;
        })
        .finally(() => {
          if (this.loading === loading) this.loading = null;
        });
      this.loading = loading;
    }
    return this.loading;
  }

  async entry(chainId: number, asset: string): Promise<AssetEntry | undefined> {
    return (await this.entries()).get(`${chainId}:${asset}`);
  }

  async price(chainId: number, asset: string): Promise<Price> {
    const entry = await this.entry(chainId, asset);
    if (!entry) return { status: 'unknown', detail: `No price source is registered for ${asset} on chain ${chainId}.` };
    const source = entry.priceSource;
    const now = this.now();
    if (source.kind === 'static') {
      const micros = parseUsd(source.usd);
      if (micros === null || micros === 0n)
        return { status: 'unknown', detail: `The static price of ${entry.symbol} is not a positive USD amount.` };
      if (source.maxAgeSeconds !== null && now - entry.updatedAt.getTime() > source.maxAgeSeconds * 1000) {
        return {
          status: 'stale',
          detail: `The static price of ${entry.symbol} was set more than ${source.maxAgeSeconds} s ago.`,
        };
      }
      return {
        status: 'ok',
        micros,
        source: 'static',
        at: entry.updatedAt,
        symbol: entry.symbol,
        decimals: entry.decimals,
      };
    }
    let feed: { answer: bigint; decimals: number; updatedAt: number };
    try {
      feed = await this.readFeed(chainId, source.aggregator as Address);
    } catch {
      return { status: 'unknown', detail: `The price feed of ${entry.symbol} on chain ${chainId} did not answer.` };
    }
    if (feed.answer <= 0n || feed.updatedAt === 0) {
      return { status: 'unknown', detail: `The price feed of ${entry.symbol} reports no valid answer.` };
    }
    if (feed.updatedAt * 1000 > now + FUTURE_TOLERANCE_MS) {
      // A round stamped in the future is no round Chainlink writes: treat the feed as broken, not as fresh.
      return { status: 'unknown', detail: `The price feed of ${entry.symbol} reports an update time in the future.` };
    }
    if (now - feed.updatedAt * 1000 > source.maxAgeSeconds * 1000) {
      return {
        status: 'stale',
        detail: `The price feed of ${entry.symbol} was last updated more than ${source.maxAgeSeconds} s ago.`,
      };
    }
    // answer has `decimals` places; micro-USD has 6. Round up: valuations err against the agent.
    const micros =
      feed.decimals >= 6
        ? divCeil(feed.answer, 10n ** BigInt(feed.decimals - 6))
        : feed.answer * 10n ** BigInt(6 - feed.decimals);
    return {
      status: 'ok',
      micros,
      source: 'chainlink',
      at: new Date(feed.updatedAt * 1000),
      symbol: entry.symbol,
      decimals: entry.decimals,
    };
  }

  private readFeed(
    chainId: number,
    aggregator: Address,
  ): Promise<{ answer: bigint; decimals: number; updatedAt: number }> {
    const key = `${chainId}:${aggregator}`;
    const cached = this.feeds.get(key);
    const now = Date.now();
    if (cached && now - cached.at < FEED_TTL_MS) return cached.read;
    const client = this.deps.chains.client(chainId);
    const read = Promise.all([
      client.readContract({ address: aggregator, abi: AGGREGATOR_ABI, functionName: 'decimals' }),
      client.readContract({ address: aggregator, abi: AGGREGATOR_ABI, functionName: 'latestRoundData' }),
    ]).then(([decimals, round]) => ({ answer: round[1], decimals, updatedAt: Number(round[3]) }));
    this.feeds.set(key, { at: now, read });
    read.catch(() => this.feeds.delete(key));
    return read;
  }

  /** Value `amount` base units of `asset` (rounded up). */
  async value(chainId: number, asset: string, amount: bigint, decimals: number): Promise<Valuation> {
    const price = await this.price(chainId, asset);
    if (price.status !== 'ok') return price;
    if (price.decimals !== decimals) {
      return {
        status: 'unknown',
        detail: `The registry says ${price.symbol} has ${price.decimals} decimals; the chain says ${decimals}.`,
      };
    }
    return { status: 'ok', usd: valueOf(amount, decimals, price.micros), price };
  }
}

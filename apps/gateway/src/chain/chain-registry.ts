import { erc20Abi, type Address, type Hex, type PublicClient, type Transaction } from 'viem';
import { Clawd402Error, type EventLogger } from '@clawd402/protocol';
import type { ChainConfig } from '../config.ts';
import { RpcPool, type EndpointHealth, type RpcObserver } from './rpc-pool.ts';

export interface FeeQuote {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/**
 * Fees for a transaction that replaces one signed with `current`: both fees raised by at least `bumpPercent` (rounded
 * up; nodes refuse a replacement that raises either by less than 10%), never below the market quote, and the max fee
 * never below the priority fee.
 */
export function replacementFees(current: FeeQuote, market: FeeQuote, bumpPercent: number): FeeQuote {
  const bump = (v: bigint): bigint => (v * BigInt(100 + bumpPercent) + 99n) / 100n;
  const larger = (a: bigint, b: bigint): bigint => (a > b ? a : b);
  const maxPriorityFeePerGas = larger(bump(current.maxPriorityFeePerGas), market.maxPriorityFeePerGas);
  const maxFeePerGas = larger(larger(bump(current.maxFeePerGas), market.maxFeePerGas), maxPriorityFeePerGas);
  return { maxFeePerGas, maxPriorityFeePerGas };
}

/** Where a signed transaction is broadcast: the public mempool (the RPC endpoints) or the chain's private relay. */
export type SubmitRoute = 'public' | 'private';

export interface ChainRegistryOptions {
  /** Micro-USD: intents worth at least this go to the chain's private relay, when it has one. */
  privateRelayMinValueUsd?: bigint;
  log?: EventLogger;
  /** Told of every RPC request (the gateway's metrics). */
  observe?: RpcObserver;
}

/** What a broadcast came to: sent now, or the node already had it. */
export type BroadcastOutcome = 'sent' | 'known';

const FEE_TTL_MS = 2_000;
const DEFAULT_PRIVATE_MIN_USD = 1_000_000_000n; // 1,000 USD

/**
 * The configured chains: per chain an RPC pool (primary and fallback endpoints with health checks and failover, see
 * rpc-pool.ts), an optional private relay, fee caps, and the small caches the pipeline needs (token decimals, fee
 * quotes). RPC URLs may carry credentials, so they never appear in errors or logs: failures surface as
 * `chain_unavailable` with the chain id only.
 */
export class ChainRegistry {
  private readonly pools = new Map<number, RpcPool>();
  private readonly relays = new Map<number, RpcPool>();
  private readonly caps = new Map<number, { maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint }>();
  private readonly decimals = new Map<string, Promise<number>>();
  private readonly fees = new Map<number, { at: number; quote: Promise<FeeQuote> }>();
  private readonly privateMinUsd: bigint;
  private readonly reorgDepths = new Map<number, number>();

  constructor(chains: readonly ChainConfig[], options: ChainRegistryOptions = {}) {
    this.privateMinUsd = options.privateRelayMinValueUsd ?? DEFAULT_PRIVATE_MIN_USD;
    for (const chain of chains) {
      // Concurrent calls made in the same tick travel as one JSON-RPC batch: fewer HTTP round trips under load.
      this.pools.set(
        chain.chainId,
        new RpcPool({
          chainId: chain.chainId,
          role: 'rpc',
          urls: chain.rpcUrls ?? [chain.rpcUrl],
          batch: true,
          log: options.log,
          observe: options.observe,
        }),
      );
      if (chain.privateRelayUrls?.length) {
        this.relays.set(
          chain.chainId,
          new RpcPool({
            chainId: chain.chainId,
            role: 'relay',
            urls: chain.privateRelayUrls,
            log: options.log,
            observe: options.observe,
          }),
        );
      }
      if (chain.reorgDepth !== undefined) this.reorgDepths.set(chain.chainId, chain.reorgDepth);
      this.caps.set(chain.chainId, {
        maxFeePerGas: chain.maxFeePerGasCap,
        maxPriorityFeePerGas: chain.maxPriorityFeePerGasCap,
      });
    }
  }

  /** Probe every endpoint of every chain and relay once (and keep the healthy ones first): the `rpc-health` worker's tick. */
  async checkHealth(): Promise<void> {
    await Promise.all([...this.pools.values(), ...this.relays.values()].map((p) => p.check()));
  }

  /** Endpoint health per chain (labels, never URLs). */
  health(): { chainId: number; rpc: EndpointHealth[]; relay: EndpointHealth[] }[] {
    return this.chainIds.map((chainId) => ({
      chainId,
      rpc: this.pools.get(chainId)!.health(),
      relay: this.relays.get(chainId)?.health() ?? [],
    }));
  }

  has(chainId: number): boolean {
    return this.pools.has(chainId);
  }

  /** CHAIN_REORG_DEPTH for the chain, or `fallback` when it is not configured. */
  reorgDepth(chainId: number, fallback: number): number {
    return this.reorgDepths.get(chainId) ?? fallback;
  }

  get chainIds(): number[] {
    return [...this.pools.keys()];
  }

  /** The chain's public client (over its healthy endpoints); take it per operation, it changes on failover. */
  client(chainId: number): PublicClient {
    const pool = this.pools.get(chainId);
    if (!pool)
      throw new Clawd402Error('chain_not_configured', `Chain ${chainId} is not configured.`, { details: { chainId } });
    return pool.client;
  }

  hasPrivateRelay(chainId: number): boolean {
    return this.relays.has(chainId);
  }

  /**
   * The route an intent's transactions take: the private relay when the chain has one and the intent is worth at
   * least the threshold — or its value is unknown (then protection is the safe side) — else the public mempool.
   */
  routeFor(chainId: number, valueUsdMicros: bigint | null): SubmitRoute {
    if (!this.relays.has(chainId)) return 'public';
    return valueUsdMicros === null || valueUsdMicros >= this.privateMinUsd ? 'private' : 'public';
  }

  private unavailable(chainId: number, cause: unknown): Clawd402Error {
    return new Clawd402Error('chain_unavailable', `The RPC for chain ${chainId} did not answer.`, {
      details: { chainId },
      cause,
    });
  }

  /** ERC-20 decimals, cached per (chain, token). A token that does not answer is `asset_unknown`. */
  async tokenDecimals(chainId: number, token: Address): Promise<number> {
    const key = `${chainId}:${token}`;
    let pending = this.decimals.get(key);
    if (!pending) {
      pending = this.client(chainId)
        .readContract({ address: token, abi: erc20Abi, functionName: 'decimals' })
        .then((d) => {
          if (!Number.isInteger(d) || d < 0 || d > 36) throw new Error('decimals out of range');
          return d;
        });
      this.decimals.set(key, pending);
      pending.catch(() => this.decimals.delete(key));
    }
    try {
      return await pending;
    } catch (cause) {
      throw new Clawd402Error('asset_unknown', `Token ${token} does not answer decimals() on chain ${chainId}.`, {
        details: { chainId, asset: token },
        cause,
      });
    }
  }

  /** The chain's fee caps in wei (undefined: no cap). */
  feeCaps(chainId: number): { maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint } {
    return this.caps.get(chainId) ?? {};
  }

  /**
   * EIP-1559 fee quote, shared by concurrent intents for two seconds. A quote above the chain's caps is refused with
   * `fee_cap_exceeded` (nothing is signed at such fees); a chain without EIP-1559 is `fee_model_unsupported`.
   */
  async feeQuote(chainId: number): Promise<FeeQuote> {
    const quote = await this.marketFees(chainId);
    this.assertWithinCaps(chainId, quote);
    return quote;
  }

  /** The fee quote without the caps (replacements compute their own fees, then check the caps). */
  async marketFees(chainId: number): Promise<FeeQuote> {
    const cached = this.fees.get(chainId);
    const now = Date.now();
    if (cached && now - cached.at < FEE_TTL_MS) return cached.quote;
    const quote = this.client(chainId)
      .estimateFeesPerGas({ chain: null, type: 'eip1559' })
      .then(
        (f) => ({ maxFeePerGas: f.maxFeePerGas, maxPriorityFeePerGas: f.maxPriorityFeePerGas }),
        (cause: unknown) => {
          if (this.fees.get(chainId)?.quote === quote) this.fees.delete(chainId);
          if ((cause as Error)?.name === 'Eip1559FeesNotSupportedError') {
            throw new Clawd402Error(
              'fee_model_unsupported',
              `Chain ${chainId} does not support EIP-1559 fees; this gateway signs EIP-1559 transactions only.`,
              {
                details: { chainId },
              },
            );
          }
          throw this.unavailable(chainId, cause);
        },
      );
    this.fees.set(chainId, { at: now, quote });
    return quote;
  }

  /** Refuse fees above the chain's caps with `fee_cap_exceeded` (details name the field, the fee and the cap in wei). */
  assertWithinCaps(chainId: number, fees: FeeQuote): void {
    const caps = this.feeCaps(chainId);
    for (const field of ['maxFeePerGas', 'maxPriorityFeePerGas'] as const) {
      const cap = caps[field];
      if (cap !== undefined && fees[field] > cap) {
        throw new Clawd402Error(
          'fee_cap_exceeded',
          `The ${field} needed on chain ${chainId} is above the configured cap; nothing was signed.`,
          {
            details: { chainId, field, feeWei: fees[field].toString(), capWei: cap.toString() },
          },
        );
      }
    }
  }

  /** Transactions of `address` the chain counts: `pending` includes the public mempool's contiguous run. */
  async pendingNonce(chainId: number, address: Address): Promise<number> {
    return this.nonceAt(chainId, address, 'pending');
  }

  async latestNonce(chainId: number, address: Address): Promise<number> {
    return this.nonceAt(chainId, address, 'latest');
  }

  private async nonceAt(chainId: number, address: Address, blockTag: 'pending' | 'latest'): Promise<number> {
    try {
      return await this.client(chainId).getTransactionCount({ address, blockTag });
    } catch (cause) {
      throw this.unavailable(chainId, cause);
    }
  }

  /**
   * Gas limit for the call. A call the node says would revert is refused with `transaction_reverts`; an RPC that
   * does not answer is `chain_unavailable`.
   */
  async estimateGas(chainId: number, tx: { from: Address; to: Address; value: bigint; data: Hex }): Promise<bigint> {
    try {
      return await this.client(chainId).estimateGas({ account: tx.from, to: tx.to, value: tx.value, data: tx.data });
    } catch (cause) {
      const text = String(
        (cause as { details?: string; shortMessage?: string })?.details ?? (cause as Error)?.message ?? '',
      );
      if (/revert|insufficient funds|out of gas|exceeds/i.test(text)) {
        throw new Clawd402Error(
          'transaction_reverts',
          'The chain reports the transaction would fail; nothing was signed.',
          {
            details: { chainId },
            cause,
          },
        );
      }
      throw this.unavailable(chainId, cause);
    }
  }

  /**
   * Broadcast a signed transaction on `route`. The private route goes to the relay only — never to the public
   * mempool, not even when the relay is down (the tracker retries) — so a front-runner never sees it pending.
   * Errors are viem's, scrubbed of URLs (rpc-pool.ts).
   */
  async sendRawTransaction(chainId: number, raw: Hex, route: SubmitRoute = 'public'): Promise<Hex> {
    if (route === 'private') {
      const relay = this.relays.get(chainId);
      if (!relay)
        throw new Clawd402Error('chain_unavailable', `Chain ${chainId} has no private relay configured.`, {
          details: { chainId },
        });
      return relay.client.sendRawTransaction({ serializedTransaction: raw });
    }
    return this.client(chainId).sendRawTransaction({ serializedTransaction: raw });
  }

  /** Broadcast, treating "already known" as success. Other failures throw (scrubbed). */
  async broadcast(chainId: number, raw: Hex, route: SubmitRoute): Promise<BroadcastOutcome> {
    try {
      await this.sendRawTransaction(chainId, raw, route);
      return 'sent';
    } catch (error) {
      if (isAlreadyKnown(error)) return 'known';
      throw error;
    }
  }

  /**
   * The transaction as the public endpoints know it (pending or mined), or null when they do not know it — dropped
   * from the mempool, or sent only to the private relay. Undefined when the RPC did not answer.
   */
  async findTransaction(chainId: number, hash: Hex): Promise<Transaction | null | undefined> {
    try {
      return await this.client(chainId).getTransaction({ hash });
    } catch (error) {
      if ((error as Error).name === 'TransactionNotFoundError') return null;
      return undefined;
    }
  }
}

/** The node already has this exact transaction. */
export function isAlreadyKnown(error: unknown): boolean {
  return /already known|known transaction|already imported|already in (the )?(mem)?pool/i.test(errorText(error));
}

/** The node refused the transaction for its fees (a replacement below the bump, or below the base fee). */
export function isUnderpriced(error: unknown): boolean {
  return /underpriced|fee too low|max fee per gas less than block base fee|fee cap less than block base fee|replacement/i.test(
    errorText(error),
  );
}

/** The node says the nonce is already used (the transaction can never be mined). */
export function isNonceTooLow(error: unknown): boolean {
  return /nonce too low|nonce has already been used|already been used|invalid nonce/i.test(errorText(error));
}

function errorText(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; depth < 6 && e; depth += 1) {
    const r = e as { message?: unknown; details?: unknown; shortMessage?: unknown };
    for (const v of [r.details, r.shortMessage, r.message]) if (typeof v === 'string') parts.push(v);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(' | ');
}

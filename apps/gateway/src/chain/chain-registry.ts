import { createPublicClient, http, erc20Abi, type Address, type Hex, type PublicClient } from 'viem';
import { Clawd402Error } from '@clawd402/protocol';
import type { ChainConfig } from '../config.ts';

export interface FeeQuote {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

const FEE_TTL_MS = 2_000;

/**
 * One viem public client per configured chain, plus the small caches the pipeline needs (token decimals, fee
 * quotes). RPC URLs may carry credentials, so they never appear in errors or logs: failures surface as
 * `chain_unavailable` with the chain id only.
 */
export class ChainRegistry {
  private readonly clients = new Map<number, PublicClient>();
  private readonly decimals = new Map<string, Promise<number>>();
  private readonly fees = new Map<number, { at: number; quote: Promise<FeeQuote> }>();

  constructor(chains: readonly ChainConfig[]) {
    for (const chain of chains) {
      this.clients.set(chain.chainId, createPublicClient({
          // Concurrent calls made in the same tick travel as one JSON-RPC batch: fewer HTTP round trips under load.
          transport: http(chain.rpcUrl, { retryCount: 1, timeout: 10_000, batch: { batchSize: 100, wait: 0 } }),
        }) as PublicClient);
    }
  }

  has(chainId: number): boolean {
    return this.clients.has(chainId);
  }

  get chainIds(): number[] {
    return [...this.clients.keys()];
  }

  client(chainId: number): PublicClient {
    const client = this.clients.get(chainId);
    if (!client) throw new Clawd402Error('chain_not_configured', `Chain ${chainId} is not configured.`, { details: { chainId } });
    return client;
  }

  private unavailable(chainId: number, cause: unknown): Clawd402Error {
    return new Clawd402Error('chain_unavailable', `The RPC for chain ${chainId} did not answer.`, { details: { chainId }, cause });
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

  /** EIP-1559 fee quote, shared by concurrent intents for two seconds. */
  async feeQuote(chainId: number): Promise<FeeQuote> {
    const cached = this.fees.get(chainId);
    const now = Date.now();
    if (cached && now - cached.at < FEE_TTL_MS) return cached.quote;
    const quote = this.client(chainId)
      .estimateFeesPerGas({ chain: null, type: 'eip1559' })
      .then((f) => ({ maxFeePerGas: f.maxFeePerGas, maxPriorityFeePerGas: f.maxPriorityFeePerGas }));
    this.fees.set(chainId, { at: now, quote });
    try {
      return await quote;
    } catch (cause) {
      this.fees.delete(chainId);
      throw this.unavailable(chainId, cause);
    }
  }

  async pendingNonce(chainId: number, address: Address): Promise<number> {
    try {
      return await this.client(chainId).getTransactionCount({ address, blockTag: 'pending' });
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
      const text = String((cause as { details?: string; shortMessage?: string })?.details ?? (cause as Error)?.message ?? '');
      if (/revert|insufficient funds|out of gas|exceeds/i.test(text)) {
        throw new Clawd402Error('transaction_reverts', 'The chain reports the transaction would fail; nothing was signed.', {
          details: { chainId },
          cause,
        });
      }
      throw this.unavailable(chainId, cause);
    }
  }

  async sendRawTransaction(chainId: number, raw: Hex): Promise<Hex> {
    return this.client(chainId).sendRawTransaction({ serializedTransaction: raw });
  }
}

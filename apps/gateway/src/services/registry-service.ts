import type pg from 'pg';
import { Clawd402Error, parseAddress } from '@clawd402/protocol';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { VerifiedContracts } from '../chain/verified-contracts.ts';
import { withTransaction } from '../db/pool.ts';
import type { UserPrincipal } from '../domain/principal.ts';
import { parseUsd } from '../domain/usd.ts';
import type { PriceBook } from '../money/price-book.ts';
import {
  deleteAsset,
  listAssets,
  upsertAsset,
  type AssetEntry,
  type PriceSource,
} from '../repositories/assets-repository.ts';
import {
  addVerifiedContract,
  listVerifiedContracts,
  removeVerifiedContract,
  type VerifiedContract,
} from '../repositories/verified-contracts-repository.ts';

export type { AssetEntry, PriceSource } from '../repositories/assets-repository.ts';
export type { VerifiedContract } from '../repositories/verified-contracts-repository.ts';

/** A price source as an operator sends it (the USD amount as text; addresses not yet checksummed). */
export type PriceSourceInput =
  | { kind: 'static'; usd: string; maxAgeSeconds?: number | null }
  | { kind: 'chainlink'; aggregator: string; maxAgeSeconds: number };

/**
 * The per-chain asset registry (decimals and a price source per asset: every USD figure comes from here) and the
 * verified-contract registry behind `contract_verified`. Changes are audited and reach this process's caches at once
 * (and every other process within a second). Chain ids and addresses arrive as the operator sent them (path text).
 */
export class RegistryService {
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      chains: ChainRegistry;
      prices: PriceBook;
      verifiedContracts: VerifiedContracts;
    },
  ) {}

  listAssets(): Promise<AssetEntry[]> {
    return listAssets(this.deps.pool);
  }

  async putAsset(
    actor: UserPrincipal,
    input: { chainId: string; asset: string; symbol: string; decimals: number; price: PriceSourceInput },
  ): Promise<AssetEntry> {
    const chainId = this.chainOf(input.chainId);
    const asset = assetOf(input.asset);
    const { price } = input;
    let priceSource: PriceSource;
    if (price.kind === 'static') {
      const usd = parseUsd(price.usd);
      if (usd === null || usd === 0n)
        throw new Clawd402Error('invalid_amount', 'price.usd must be a positive USD amount with at most 6 decimals.', {
          details: { field: 'price.usd' },
        });
      priceSource = { kind: 'static', usd: price.usd, maxAgeSeconds: price.maxAgeSeconds ?? null };
    } else {
      priceSource = {
        kind: 'chainlink',
        aggregator: parseAddress('price.aggregator', price.aggregator),
        maxAgeSeconds: price.maxAgeSeconds,
      };
    }
    if (asset === 'native' && input.decimals !== 18) {
      throw new Clawd402Error('invalid_request', 'The native coin of an EVM chain has 18 decimals.', {
        details: { field: 'decimals' },
      });
    }
    const entry = await withTransaction(this.deps.pool, (client) =>
      upsertAsset(
        client,
        { chainId, asset, symbol: input.symbol, decimals: input.decimals, priceSource },
        `user:${actor.userId}`,
      ),
    );
    this.deps.prices.invalidate();
    return entry;
  }

  async deleteAsset(actor: UserPrincipal, rawChainId: string, rawAsset: string): Promise<void> {
    const asset = assetOf(rawAsset);
    const removed = await withTransaction(this.deps.pool, (client) =>
      deleteAsset(client, this.chainOf(rawChainId), asset, `user:${actor.userId}`),
    );
    if (!removed) throw new Clawd402Error('not_found', 'No such asset.');
    this.deps.prices.invalidate();
  }

  listContracts(): Promise<VerifiedContract[]> {
    return listVerifiedContracts(this.deps.pool);
  }

  async addContract(actor: UserPrincipal, rawChainId: string, rawAddress: string, label: string): Promise<void> {
    const chainId = this.chainOf(rawChainId);
    const address = parseAddress('address', rawAddress);
    await withTransaction(this.deps.pool, (client) =>
      addVerifiedContract(client, { chainId, address, label }, `user:${actor.userId}`),
    );
    this.deps.verifiedContracts.invalidate();
  }

  async removeContract(actor: UserPrincipal, rawChainId: string, rawAddress: string): Promise<void> {
    const removed = await withTransaction(this.deps.pool, (client) =>
      removeVerifiedContract(
        client,
        this.chainOf(rawChainId),
        parseAddress('address', rawAddress),
        `user:${actor.userId}`,
      ),
    );
    if (!removed) throw new Clawd402Error('not_found', 'No such verified contract.');
    this.deps.verifiedContracts.invalidate();
  }

  private chainOf(raw: string): number {
    const chainId = Number(raw);
    if (!this.deps.chains.has(chainId))
      throw new Clawd402Error('chain_not_configured', undefined, { details: { chainId } });
    return chainId;
  }
}

const assetOf = (raw: string): string => (raw === 'native' ? 'native' : parseAddress('asset', raw));

import type pg from 'pg';
import { classifiedWrite } from '../db/errors.ts';
import { appendAudit, type Actor } from './audit-repository.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** How an asset is priced. Static prices may carry a maximum age (counted from the registry entry's update). */
export type PriceSource =
  | { kind: 'static'; usd: string; maxAgeSeconds: number | null }
  | { kind: 'chainlink'; aggregator: string; maxAgeSeconds: number };

export interface AssetEntry {
  chainId: number;
  /** 'native' or the checksummed token address. */
  asset: string;
  symbol: string;
  decimals: number;
  priceSource: PriceSource;
  updatedBy: string;
  updatedAt: Date;
}

interface AssetRow {
  chain_id: string;
  asset: string;
  symbol: string;
  decimals: number;
  price_source: PriceSource;
  updated_by: string;
  updated_at: Date;
}

const toEntry = (r: AssetRow): AssetEntry => ({
  chainId: Number(r.chain_id),
  asset: r.asset,
  symbol: r.symbol,
  decimals: r.decimals,
  priceSource: r.price_source,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at,
});

export async function listAssets(db: Queryable): Promise<AssetEntry[]> {
  const { rows } = await db.query<AssetRow>('SELECT * FROM assets ORDER BY chain_id, asset');
  return rows.map(toEntry);
}

/** Create or replace an asset entry and audit it, in the caller's transaction. */
export async function upsertAsset(
  db: Queryable,
  entry: Omit<AssetEntry, 'updatedAt' | 'updatedBy'>,
  actor: Actor,
): Promise<AssetEntry> {
  return classifiedWrite(async () => {
    const { rows } = await db.query<AssetRow>(
      `INSERT INTO assets (chain_id, asset, symbol, decimals, price_source, updated_by) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (chain_id, asset) DO UPDATE SET symbol = excluded.symbol, decimals = excluded.decimals,
         price_source = excluded.price_source, updated_by = excluded.updated_by, updated_at = now()
       RETURNING *`,
      [entry.chainId, entry.asset, entry.symbol, entry.decimals, JSON.stringify(entry.priceSource), actor],
    );
    await appendAudit(db, {
      actor,
      action: 'asset.updated',
      subject: `asset:${entry.chainId}:${entry.asset}`,
      data: { symbol: entry.symbol, decimals: entry.decimals, priceSource: { ...entry.priceSource } },
    });
    return toEntry(rows[0]!);
  });
}

/** Insert an entry only if the chain has none for that asset (the development default); no audit when nothing changed. */
export async function seedAsset(db: Queryable, entry: Omit<AssetEntry, 'updatedAt' | 'updatedBy'>): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO assets (chain_id, asset, symbol, decimals, price_source, updated_by) VALUES ($1, $2, $3, $4, $5, 'system:dev-default')
     ON CONFLICT (chain_id, asset) DO NOTHING`,
    [entry.chainId, entry.asset, entry.symbol, entry.decimals, JSON.stringify(entry.priceSource)],
  );
  if (rowCount === 1) {
    await appendAudit(db, {
      actor: 'system:dev-default',
      action: 'asset.updated',
      subject: `asset:${entry.chainId}:${entry.asset}`,
      data: { symbol: entry.symbol, decimals: entry.decimals, priceSource: { ...entry.priceSource } },
    });
  }
  return rowCount === 1;
}

export async function deleteAsset(db: Queryable, chainId: number, asset: string, actor: Actor): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM assets WHERE chain_id = $1 AND asset = $2', [chainId, asset]);
  if (rowCount === 1)
    await appendAudit(db, { actor, action: 'asset.deleted', subject: `asset:${chainId}:${asset}`, data: {} });
  return rowCount === 1;
}

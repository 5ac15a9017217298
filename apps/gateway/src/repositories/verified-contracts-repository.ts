import type pg from 'pg';
import { classifiedWrite } from '../db/errors.ts';
import { appendAudit, type Actor } from './audit-repository.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

export interface VerifiedContract {
  chainId: number;
  address: string;
  label: string;
  addedBy: string;
  addedAt: Date;
}

export async function listVerifiedContracts(db: Queryable): Promise<VerifiedContract[]> {
  const { rows } = await db.query<{
    chain_id: string;
    address: string;
    label: string;
    added_by: string;
    added_at: Date;
  }>('SELECT * FROM verified_contracts ORDER BY chain_id, address');
  return rows.map((r) => ({
    chainId: Number(r.chain_id),
    address: r.address,
    label: r.label,
    addedBy: r.added_by,
    addedAt: r.added_at,
  }));
}

export async function addVerifiedContract(
  db: Queryable,
  entry: { chainId: number; address: string; label: string },
  actor: Actor,
): Promise<void> {
  return classifiedWrite(async () => {
    await db.query(
      `INSERT INTO verified_contracts (chain_id, address, label, added_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (chain_id, address) DO UPDATE SET label = excluded.label, added_by = excluded.added_by, added_at = now()`,
      [entry.chainId, entry.address, entry.label, actor],
    );
    await appendAudit(db, {
      actor,
      action: 'contract.verified',
      subject: `contract:${entry.chainId}:${entry.address}`,
      data: { label: entry.label },
    });
  });
}

export async function removeVerifiedContract(
  db: Queryable,
  chainId: number,
  address: string,
  actor: Actor,
): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM verified_contracts WHERE chain_id = $1 AND address = $2', [
    chainId,
    address,
  ]);
  if (rowCount === 1)
    await appendAudit(db, {
      actor,
      action: 'contract.unverified',
      subject: `contract:${chainId}:${address}`,
      data: {},
    });
  return rowCount === 1;
}

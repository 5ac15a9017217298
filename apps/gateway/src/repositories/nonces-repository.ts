import type pg from 'pg';
import { prepared } from '../db/pool.ts';

/**
 * Lock the nonce row of (chain, address) for the caller's transaction and return the next nonce: the larger of what
 * Postgres has handed out and `chainPending`, the chain's pending count read just before (so a key also used outside
 * the gateway never collides). The row stays locked until the transaction ends; the caller stores the signed
 * transactions and calls `consumeNonces` in the same transaction. A rollback (signer down, audit failed) leaves the
 * nonces unused: no duplicates and no gaps, across processes and restarts.
 */
export async function lockNextNonce(client: pg.PoolClient, chainId: number, address: string, chainPending: number): Promise<number> {
  // One statement: create the row if it is new (the insert locks it), else lock the existing row. If another
  // process created the row after this statement's snapshot, neither branch sees it: run the statement again.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const { rows } = await client.query<{ next_nonce: string }>(prepared(
      `WITH seeded AS (
         INSERT INTO nonces (chain_id, address, next_nonce) VALUES ($1, $2, $3) ON CONFLICT (chain_id, address) DO NOTHING
         RETURNING next_nonce
       ), locked AS (
         SELECT next_nonce FROM nonces WHERE chain_id = $1 AND address = $2 FOR UPDATE
       )
       SELECT next_nonce FROM seeded UNION ALL SELECT next_nonce FROM locked`,
      [chainId, address, chainPending],
    ));
    if (rows[0]) return Math.max(Number(rows[0].next_nonce), chainPending);
  }
  throw new Error(`nonce row for ${chainId}/${address} could not be locked`);
}

/** Record that nonces up to and including `lastUsed` are taken. */
export async function consumeNonces(client: pg.PoolClient, chainId: number, address: string, lastUsed: number): Promise<void> {
  await client.query(prepared('UPDATE nonces SET next_nonce = $3, updated_at = now() WHERE chain_id = $1 AND address = $2', [
    chainId,
    address,
    lastUsed + 1,
  ]));
}

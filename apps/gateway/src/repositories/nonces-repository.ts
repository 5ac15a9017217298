import type pg from 'pg';

/**
 * Lock the nonce row of (chain, address) for the caller's transaction and return the nonce to use: the larger of
 * what Postgres has handed out and what the chain reports as pending (so a key also used elsewhere never collides).
 * The row stays locked until the transaction ends; the caller stores the signed transaction and then calls
 * `consumeNonce` in the same transaction. A rollback (signer down, audit failed) leaves the nonce unused: no gaps.
 */
export async function lockNextNonce(client: pg.PoolClient, chainId: number, address: string, chainPending: number): Promise<number> {
  await client.query(
    'INSERT INTO nonces (chain_id, address, next_nonce) VALUES ($1, $2, $3) ON CONFLICT (chain_id, address) DO NOTHING',
    [chainId, address, chainPending],
  );
  const { rows } = await client.query<{ next_nonce: string }>(
    'SELECT next_nonce FROM nonces WHERE chain_id = $1 AND address = $2 FOR UPDATE',
    [chainId, address],
  );
  return Math.max(Number(rows[0]!.next_nonce), chainPending);
}

export async function consumeNonce(client: pg.PoolClient, chainId: number, address: string, used: number): Promise<void> {
  await client.query('UPDATE nonces SET next_nonce = $3, updated_at = now() WHERE chain_id = $1 AND address = $2', [
    chainId,
    address,
    used + 1,
  ]);
}

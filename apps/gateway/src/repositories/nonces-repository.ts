import type pg from 'pg';
import { prepared } from '../db/pool.ts';
import { appendAudit, type Actor } from './audit-repository.ts';

/**
 * Make sure (chain, address) has a nonce row, in its own autocommit statement, before a transaction locks it with
 * {@link lockNextNonces}. A new row starts at `chainPending`, the chain's pending count; an existing row is left alone.
 * A row seeded for a batch that then rolls back is harmless: allocation takes the larger of the row and the chain.
 */
export async function seedNonceRows(
  db: Pick<pg.Pool, 'query'>,
  chainId: number,
  rows: readonly { address: string; chainPending: number }[],
): Promise<void> {
  await db.query(
    prepared(
      `INSERT INTO nonces (chain_id, address, next_nonce)
       SELECT $1::bigint, address, next FROM unnest($2::text[], $3::bigint[]) AS s(address, next) ORDER BY address
       ON CONFLICT (chain_id, address) DO NOTHING`,
      [chainId, rows.map((r) => r.address), rows.map((r) => r.chainPending)],
    ),
  );
}

/**
 * Lock the nonce rows of several addresses on one chain for the caller's transaction, in one statement and in address
 * order (so two processes locking overlapping sets queue instead of deadlocking), and return each address's next
 * nonce: the larger of what Postgres has handed out and its `chainPending`, the chain's pending count read just before
 * (so a key also used outside the gateway never collides). The rows stay locked until the transaction ends; the caller
 * stores the signed transactions and advances the rows past them in the same transaction (markSignedBatch). A rollback
 * (signer down, audit failed) leaves the nonces unused: no duplicates and no gaps, across processes and restarts.
 * Every row must exist ({@link seedNonceRows}); a missing one throws, and the transaction rolls back.
 */
export async function lockNextNonces(
  client: pg.PoolClient,
  chainId: number,
  rows: readonly { address: string; chainPending: number }[],
): Promise<Map<string, number>> {
  const { rows: locked } = await client.query<{ address: string; next_nonce: string }>(
    prepared(
      `SELECT address, next_nonce FROM nonces WHERE chain_id = $1 AND address = ANY($2::text[])
        ORDER BY address FOR UPDATE`,
      [chainId, rows.map((r) => r.address)],
    ),
  );
  const stored = new Map(locked.map((r) => [r.address, Number(r.next_nonce)]));
  const next = new Map<string, number>();
  for (const { address, chainPending } of rows) {
    const at = stored.get(address);
    if (at === undefined) throw new Error(`nonce row for ${chainId}/${address} is missing`);
    next.set(address, Math.max(at, chainPending));
  }
  return next;
}

/** Every address with a nonce row on a chain, and the next nonce Postgres will hand out (the reconciler's worklist). */
export async function listNonceRows(
  db: Pick<pg.Pool, 'query'>,
  chainId: number,
): Promise<{ address: string; nextNonce: number }[]> {
  const { rows } = await db.query<{ address: string; next_nonce: string }>(
    'SELECT address, next_nonce FROM nonces WHERE chain_id = $1 ORDER BY address',
    [chainId],
  );
  return rows.map((r) => ({ address: r.address, nextNonce: Number(r.next_nonce) }));
}

/** Lock the nonce row of (chain, address) for the caller's transaction; its next nonce, or null when it has none. */
export async function lockNonceRow(client: pg.PoolClient, chainId: number, address: string): Promise<number | null> {
  const { rows } = await client.query<{ next_nonce: string }>(
    'SELECT next_nonce FROM nonces WHERE chain_id = $1 AND address = $2 FOR UPDATE',
    [chainId, address],
  );
  return rows[0] ? Number(rows[0].next_nonce) : null;
}

/**
 * Raise the next nonce to `to` (never lower it) and audit the drift: the chain counts more transactions of the address
 * than Postgres handed out — the key signed elsewhere. Allocation already takes the larger of the two; this keeps the
 * table honest. Returns whether it moved.
 */
export async function raiseNextNonce(
  client: pg.PoolClient,
  chainId: number,
  address: string,
  to: number,
  actor: Actor,
): Promise<boolean> {
  const { rows } = await client.query<{ before: string }>(
    `UPDATE nonces n SET next_nonce = $3, updated_at = now() FROM (SELECT next_nonce AS before FROM nonces WHERE chain_id = $1 AND address = $2) b
      WHERE n.chain_id = $1 AND n.address = $2 AND n.next_nonce < $3 RETURNING b.before`,
    [chainId, address, to],
  );
  if (!rows[0]) return false;
  await appendAudit(client, {
    actor,
    action: 'nonce.resynced',
    subject: `nonce:${chainId}:${address}`,
    data: { chainId, address, from: Number(rows[0].before), to },
  });
  return true;
}

export interface NonceFill {
  chainId: number;
  address: string;
  nonce: number;
  txHash: string;
  raw: string;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/**
 * Record a filler — a zero-value self-transfer signed for a nonce that was consumed but that no live intent holds —
 * in intent_transactions, with its audit record, in the caller's transaction.
 */
export async function recordNonceFill(client: pg.PoolClient, fill: NonceFill, actor: Actor): Promise<void> {
  await client.query(
    `INSERT INTO intent_transactions (tx_hash, intent_id, chain_id, from_address, nonce, kind, route, max_fee_per_gas,
                                      max_priority_fee_per_gas, raw_tx, actor)
     VALUES ($1, NULL, $2, $3, $4, 'fill', 'public', $5, $6, $7, $8)`,
    [
      fill.txHash,
      fill.chainId,
      fill.address,
      fill.nonce,
      fill.maxFeePerGas.toString(),
      fill.maxPriorityFeePerGas.toString(),
      fill.raw,
      actor,
    ],
  );
  await appendAudit(client, {
    actor,
    action: 'nonce.gap_filled',
    subject: `nonce:${fill.chainId}:${fill.address}`,
    data: {
      chainId: fill.chainId,
      address: fill.address,
      nonce: fill.nonce,
      txHash: fill.txHash,
      maxFeePerGas: fill.maxFeePerGas.toString(),
    },
  });
}

/**
 * The next nonce Postgres will hand out for (chain, address), or null when it has handed out none (no lock taken).
 * The address is compared case-insensitively: rows carry the address as the signing lane spelt it.
 */
export async function readNextNonce(
  db: Pick<pg.Pool, 'query'>,
  chainId: number,
  address: string,
): Promise<number | null> {
  const { rows } = await db.query<{ next_nonce: string }>(
    'SELECT max(next_nonce) AS next_nonce FROM nonces WHERE chain_id = $1 AND lower(address) = lower($2)',
    [chainId, address],
  );
  return rows[0]?.next_nonce != null ? Number(rows[0].next_nonce) : null;
}

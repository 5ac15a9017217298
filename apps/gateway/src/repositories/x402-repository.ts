import type pg from 'pg';
import { getAddress, type Address, type Hex } from 'viem';
import { prepared } from '../db/pool.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * Pin `payee` for `host` unless a payee is already pinned: returns the pinned payee and whether this call pinned it.
 * Concurrent first payments to one host agree on one pin (the first insert wins; the others read it).
 */
export async function pinPayee(
  db: Queryable,
  host: string,
  payee: Address,
): Promise<{ payee: Address; created: boolean }> {
  const { rows } = await db.query<{ payee: string; created: boolean }>(
    prepared(
      `WITH ins AS (
         INSERT INTO x402_payee_pins (host, payee) VALUES ($1, $2) ON CONFLICT (host) DO NOTHING RETURNING payee
       )
       SELECT payee, true AS created FROM ins
       UNION ALL
       SELECT payee, false AS created FROM x402_payee_pins WHERE host = $1 AND NOT EXISTS (SELECT 1 FROM ins)`,
      [host, payee],
    ),
  );
  const row = rows[0]!;
  return { payee: getAddress(row.payee), created: row.created };
}

/** A signed x402 payment whose reservation waits for the chain. */
export interface OpenX402Payment {
  id: string;
  chainId: number;
  token: Address;
  from: Address;
  nonce: Hex;
  validBefore: bigint;
}

/** Signed x402 payments (oldest first) whose transfer has not been seen on chain nor their window closed yet. */
export async function findOpenX402Payments(db: Queryable, limit: number): Promise<OpenX402Payment[]> {
  const { rows } = await db.query<{
    id: string;
    chain_id: string;
    token: string;
    from_address: string;
    nonce: string;
    valid_before: string;
  }>(
    prepared(
      `SELECT id, chain_id, signing_request->'x402'->>'asset' AS token, from_address,
              signing_request->'x402'->'authorization'->>'nonce' AS nonce,
              signing_request->'x402'->'authorization'->>'validBefore' AS valid_before
         FROM intents WHERE type = 'x402_payment' AND status = 'signed'
        ORDER BY updated_at LIMIT $1`,
      [limit],
    ),
  );
  return rows.map((r) => ({
    id: r.id,
    chainId: Number(r.chain_id),
    token: getAddress(r.token),
    from: getAddress(r.from_address),
    nonce: r.nonce as Hex,
    validBefore: BigInt(r.valid_before),
  }));
}

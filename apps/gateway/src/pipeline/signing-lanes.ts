import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import { keccak256, parseTransaction, serializeTransaction, type Address, type Hex } from 'viem';
import { SignerError, fromWireTransaction, toWireTransaction, transactionDigest, type WireTransaction } from '@clawd402/protocol';
import type { SignerClient, SignTransactionResult, TicketIssuer } from '@clawd402/signer-client';
import type { ChainRegistry, FeeQuote } from '../chain/chain-registry.ts';
import { withTransaction } from '../db/pool.ts';
import { appendAuditBatch } from '../repositories/audit-repository.ts';
import { markSignedBatch, type IntentRecord } from '../repositories/intents-repository.ts';
import { consumeNonces, lockNextNonce } from '../repositories/nonces-repository.ts';

export interface SignRequest {
  intent: IntentRecord;
  call: { to: Address; value: bigint; data: Hex };
  gas: bigint;
  fees: FeeQuote;
}

interface Job extends SignRequest {
  resolve: (intent: IntentRecord) => void;
  reject: (error: unknown) => void;
}

interface Prepared {
  job: Job;
  nonce: number;
  wire: WireTransaction;
  digest: Hex;
}

const MAX_BATCH = 32;

/**
 * Signing, one lane per (chain, address). Intents for one address queue in memory — holding no database connection
 * — and the lane signs them in batches: one Postgres transaction locks the nonce row (serialising lanes of the same
 * address across gateway processes), gives the batch consecutive nonces, has each transaction ticketed and signed
 * (in parallel over the signer's connections), stores the signed transactions, appends their audit records and
 * consumes the nonces, then commits. Nothing of a batch is stored unless all of it is audited.
 *
 * If the k-th signature of a batch fails, the k first are kept, the failed ones are rejected with their own error,
 * and the later ones that did sign are discarded and queued again for fresh nonces — so the nonces stored are
 * always consecutive: no gaps, no duplicates.
 */
export class SigningLanes {
  private readonly queues = new Map<string, Job[]>();

  constructor(
    private readonly deps: { pool: pg.Pool; chains: ChainRegistry; tickets: TicketIssuer; signer: SignerClient; log: FastifyBaseLogger },
    private readonly maxBatch = MAX_BATCH,
  ) {}

  /** Resolves with the intent in `signed` state, or rejects with the error that stopped it (nothing stored). */
  sign(request: SignRequest): Promise<IntentRecord> {
    const key = `${request.intent.chainId}:${request.intent.from}`;
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(key);
      const job = { ...request, resolve, reject };
      if (queue) {
        queue.push(job);
        return;
      }
      this.queues.set(key, [job]);
      void this.drain(key);
    });
  }

  private async drain(key: string): Promise<void> {
    const queue = this.queues.get(key)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, this.maxBatch);
      const retry = await this.signBatch(batch).catch((error: unknown) => {
        for (const job of batch) job.reject(error);
        return [] as Job[];
      });
      queue.unshift(...retry);
    }
    this.queues.delete(key);
  }

  /** Sign and store one batch; returns the jobs to try again. */
  private async signBatch(batch: Job[]): Promise<Job[]> {
    const { pool, chains, tickets, signer } = this.deps;
    const { chainId, from } = batch[0]!.intent as { chainId: number; from: Address };
    const chainPending = await chains.pendingNonce(chainId, from);
    let kept: Prepared[] = [];
    let outcomes: PromiseSettledResult<SignTransactionResult>[] = [];
    const stored = await withTransaction(pool, async (client) => {
      const first = await lockNextNonce(client, chainId, from, chainPending);
      const prepared = batch.map((job, i): Prepared => {
        const wire = toWireTransaction({ chainId, nonce: first + i, ...job.call, gas: job.gas, ...job.fees });
        return { job, nonce: first + i, wire, digest: transactionDigest(fromWireTransaction(wire)) };
      });
      outcomes = await Promise.allSettled(
        prepared.map(async (p) => {
          const ticket = await tickets.issue({ intentId: p.job.intent.id, chainId, signerKeyId: from, digest: p.digest });
          const signed = await signer.signTransaction({ ticket, transaction: p.wire });
          assertSignedAsAsked(signed, from, p.digest);
          return signed;
        }),
      );
      const firstFailure = outcomes.findIndex((o) => o.status === 'rejected');
      kept = firstFailure === -1 ? prepared : prepared.slice(0, firstFailure);
      if (kept.length === 0) return [];
      const signedRows = kept.map((p, i) => {
        const result = (outcomes[i] as PromiseFulfilledResult<SignTransactionResult>).value;
        return { id: p.job.intent.id, from, nonce: p.nonce, txHash: result.hash, raw: result.raw, gasLimit: p.job.gas, maxFeePerGas: p.job.fees.maxFeePerGas };
      });
      const rows = await markSignedBatch(client, signedRows);
      if (rows.length !== kept.length) throw new Error('an intent left approved while it was being signed');
      await appendAuditBatch(
        client,
        signedRows.map((r, i) => ({
          actor: 'system:gateway' as const,
          action: 'intent.signed',
          subject: `intent:${r.id}`,
          data: { chainId, from, nonce: r.nonce, digest: kept[i]!.digest, txHash: r.txHash, gas: r.gasLimit.toString(), maxFeePerGas: r.maxFeePerGas.toString() },
        })),
      );
      await consumeNonces(client, chainId, from, kept[kept.length - 1]!.nonce);
      return rows;
    });
    const byId = new Map(stored.map((r) => [r.id, r]));
    const retry: Job[] = [];
    batch.forEach((job, i) => {
      const row = byId.get(job.intent.id);
      const outcome = outcomes[i]!;
      if (row) job.resolve(row);
      else if (outcome.status === 'rejected') job.reject(outcome.reason);
      else retry.push(job); // signed after an earlier failure: its nonce is not the next one; sign again
    });
    return retry;
  }
}

/**
 * The signer must hand back exactly what the ticket allowed. Belt and braces: a signer that returned a different
 * transaction, or signed with another key, is refused before anything is stored.
 */
function assertSignedAsAsked(signed: SignTransactionResult, expectedFrom: Address, digest: Hex): void {
  const parsed = parseTransaction(signed.raw);
  const { r: _r, s: _s, v: _v, yParity: _y, ...unsigned } = parsed;
  const ok =
    keccak256(signed.raw) === signed.hash &&
    signed.from.toLowerCase() === expectedFrom.toLowerCase() &&
    parsed.type === 'eip1559' &&
    keccak256(serializeTransaction(unsigned)) === digest;
  if (!ok) throw new SignerError('signer_internal', 'signer returned a transaction other than the one ticketed');
}

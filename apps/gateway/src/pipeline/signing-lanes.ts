import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import { keccak256, parseTransaction, serializeTransaction, type Address, type Hex } from 'viem';
import { Clawd402Error, SignerError, fromWireTransaction, toWireTransaction, transactionDigest, type WireTransaction } from '@clawd402/protocol';
import type { SignerClient, SignTransactionResult, TicketIssuer } from '@clawd402/signer-client';
import { replacementFees, type ChainRegistry, type FeeQuote } from '../chain/chain-registry.ts';
import { withTransaction } from '../db/pool.ts';
import { appendAuditBatch, type Actor } from '../repositories/audit-repository.ts';
import {
  attemptsAtNonce,
  findNonceHolder,
  lockIntents,
  markSignedBatch,
  recordReplacement,
  transitionIntent,
  type IntentRecord,
} from '../repositories/intents-repository.ts';
import { consumeNonces, lockNextNonce, lockNonceRow, recordNonceFill } from '../repositories/nonces-repository.ts';
import { closeSpend } from '../repositories/spend-repository.ts';

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

  /**
   * Resolves with the intent in `signed` state — or as it is when it ended before its turn (cancelled, expired at its
   * deadline) — or rejects with the error that stopped it (nothing stored).
   */
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

  /**
   * Sign and store one batch; returns the jobs to try again. The batch's intents are locked first: one cancelled or
   * expired by then is not signed (it resolves as it is), and one whose deadline has passed ends `expired` here.
   */
  private async signBatch(batch: Job[]): Promise<Job[]> {
    const { pool, chains, log } = this.deps;
    const { chainId, from } = batch[0]!.intent as { chainId: number; from: Address };
    const chainPending = await chains.pendingNonce(chainId, from);
    let live: Job[] = [];
    let kept: Prepared[] = [];
    let outcomes: PromiseSettledResult<SignTransactionResult>[] = [];
    const ended = new Map<string, IntentRecord>();
    const expired: string[] = [];
    const stored = await withTransaction(pool, async (client) => {
      const first = await lockNextNonce(client, chainId, from, chainPending);
      const current = await lockIntents(client, batch.map((job) => job.intent.id));
      const now = Date.now();
      live = [];
      for (const job of batch) {
        const row = current.get(job.intent.id);
        if (!row || row.status !== 'approved') {
          ended.set(job.intent.id, row ?? job.intent);
        } else if (row.deadline !== null && row.deadline.getTime() <= now) {
          const moved = await transitionIntent(client, row.id, ['approved'], 'expired', {
            fields: { error_code: 'deadline_passed', error_message: 'The deadline passed before the intent was signed; nothing was signed.' },
            audit: { actor: 'system:gateway', action: 'intent.expired', subject: `intent:${row.id}`, data: { deadline: row.deadline.toISOString(), stage: 'signing' } },
          });
          ended.set(row.id, moved ?? row);
          expired.push(row.id);
        } else {
          live.push({ ...job, intent: row });
        }
      }
      if (live.length === 0) return [];
      const prepared = live.map((job, i): Prepared => {
        const wire = toWireTransaction({ chainId, nonce: first + i, ...job.call, gas: job.gas, ...job.fees });
        return { job, nonce: first + i, wire, digest: transactionDigest(fromWireTransaction(wire)) };
      });
      outcomes = await Promise.allSettled(prepared.map((p) => signTicketed(this.deps, p.job.intent.id, chainId, from, p.wire, p.digest)));
      const firstFailure = outcomes.findIndex((o) => o.status === 'rejected');
      kept = firstFailure === -1 ? prepared : prepared.slice(0, firstFailure);
      if (kept.length === 0) return [];
      const signedRows = kept.map((p, i) => {
        const result = (outcomes[i] as PromiseFulfilledResult<SignTransactionResult>).value;
        return {
          id: p.job.intent.id,
          from,
          nonce: p.nonce,
          txHash: result.hash,
          raw: result.raw,
          gasLimit: p.job.gas,
          maxFeePerGas: p.job.fees.maxFeePerGas,
          maxPriorityFeePerGas: p.job.fees.maxPriorityFeePerGas,
          route: chains.routeFor(chainId, p.job.intent.valueUsdMicros),
        };
      });
      const rows = await markSignedBatch(client, signedRows);
      if (rows.length !== kept.length) throw new Error('an intent left approved while it was being signed');
      await appendAuditBatch(
        client,
        signedRows.map((r, i) => ({
          actor: 'system:gateway' as const,
          action: 'intent.signed',
          subject: `intent:${r.id}`,
          data: {
            chainId, from, nonce: r.nonce, digest: kept[i]!.digest, txHash: r.txHash, gas: r.gasLimit.toString(),
            maxFeePerGas: r.maxFeePerGas.toString(), maxPriorityFeePerGas: r.maxPriorityFeePerGas.toString(), route: r.route,
          },
        })),
      );
      await consumeNonces(client, chainId, from, kept[kept.length - 1]!.nonce);
      return rows;
    });
    // Expired before signing: nothing left to spend (the tracker's sweep retries if this fails).
    for (const id of expired) await closeSpend(pool, id).catch((error: unknown) => log.error({ err: error, intentId: id }, 'could not release the reservation'));
    const byId = new Map(stored.map((r) => [r.id, r]));
    const retry: Job[] = [];
    for (const job of batch) {
      const gone = ended.get(job.intent.id);
      if (gone) job.resolve(gone);
    }
    live.forEach((job, i) => {
      const row = byId.get(job.intent.id);
      const outcome = outcomes[i]!;
      if (row) job.resolve(row);
      else if (outcome.status === 'rejected') job.reject(outcome.reason);
      else retry.push(job); // signed after an earlier failure: its nonce is not the next one; sign again
    });
    return retry;
  }
}

/** What signing outside a lane needs. */
export interface SignDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  tickets: TicketIssuer;
  signer: SignerClient;
  log: FastifyBaseLogger;
}

/** Ticket, sign, and check that the signer returned exactly the ticketed transaction from `from`. */
async function signTicketed(deps: SignDeps, intentId: string, chainId: number, from: Address, wire: WireTransaction, digest: Hex): Promise<SignTransactionResult> {
  const ticket = await deps.tickets.issue({ intentId, chainId, signerKeyId: from, digest });
  const signed = await deps.signer.signTransaction({ ticket, transaction: wire });
  assertSignedAsAsked(signed, from, digest);
  return signed;
}

export interface ReplacementRequest {
  intentId: string;
  kind: 'speedup' | 'cancel';
  actor: Actor;
  /** For a cancellation: who asked (the deadline counts as asking). */
  cancelReason?: 'agent' | 'operator' | 'deadline';
  /** The market fee quote (uncapped); the replacement pays at least this and at least the bump. */
  market: FeeQuote;
  bumpPercent: number;
  /** Replace only this transaction: when another process replaced it meanwhile, nothing is signed (null). */
  expectTxHash?: string;
}

/**
 * Sign a replacement for an in-flight intent's nonce — the same transaction with higher fees (speed-up) or a
 * zero-value transfer to itself (cancellation) — through the normal ticket → signer path, and store it as the
 * intent's current transaction with its audit record, in one Postgres transaction that holds the intent's row lock
 * (so two replacements of one intent never race). Returns null when the intent is no longer in flight (the caller
 * reads it again). Refuses fees above the chain's caps (`fee_cap_exceeded`) and a speed-up after the deadline
 * (`deadline_passed`).
 */
export async function signReplacement(deps: SignDeps, request: ReplacementRequest): Promise<IntentRecord | null> {
  return withTransaction(deps.pool, async (client) => {
    const intent = (await lockIntents(client, [request.intentId])).get(request.intentId);
    if (!intent || (intent.status !== 'signed' && intent.status !== 'submitted') || !intent.rawTx || !intent.txHash || !intent.from) return null;
    if (request.expectTxHash !== undefined && intent.txHash !== request.expectTxHash) return null;
    if (request.kind === 'speedup' && intent.cancelReason === null && intent.deadline !== null && intent.deadline.getTime() <= Date.now()) {
      throw new Clawd402Error('deadline_passed', "The intent's deadline has passed; it is not resubmitted.", { details: { intentId: intent.id } });
    }
    const from = intent.from as Address;
    const current = parseTransaction(intent.rawTx as Hex);
    if (current.type !== 'eip1559' || current.nonce === undefined) throw new Error(`intent ${intent.id} holds a transaction that is not EIP-1559`);
    const fees = replacementFees(
      { maxFeePerGas: current.maxFeePerGas ?? 0n, maxPriorityFeePerGas: current.maxPriorityFeePerGas ?? 0n },
      request.market,
      request.bumpPercent,
    );
    deps.chains.assertWithinCaps(intent.chainId, fees);
    // A cancellation moves nothing: the nonce is spent on a plain transfer of 0 to the key itself.
    const call = request.kind === 'cancel'
      ? { to: from, value: 0n, data: '0x' as Hex, gas: CANCEL_GAS }
      : { to: current.to as Address, value: current.value ?? 0n, data: (current.data ?? '0x') as Hex, gas: current.gas! };
    const wire = toWireTransaction({ chainId: intent.chainId, nonce: current.nonce, ...call, ...fees });
    const digest = transactionDigest(fromWireTransaction(wire));
    const signed = await signTicketed(deps, intent.id, intent.chainId, from, wire, digest);
    const action = request.kind === 'cancel' ? 'intent.cancel_signed' : 'intent.speedup_signed';
    const row = await recordReplacement(
      client,
      {
        intentId: intent.id, kind: request.kind, replaces: intent.txHash, txHash: signed.hash, raw: signed.raw, gasLimit: call.gas,
        maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas, cancelReason: request.cancelReason ?? null, actor: request.actor,
      },
      {
        actor: request.actor,
        action,
        subject: `intent:${intent.id}`,
        data: {
          chainId: intent.chainId, from, nonce: current.nonce, digest, txHash: signed.hash, replaces: intent.txHash, route: intent.submitRoute ?? 'public',
          maxFeePerGas: fees.maxFeePerGas.toString(), maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(), reason: request.cancelReason ?? null,
        },
      },
    );
    if (!row) throw new Error(`intent ${intent.id} changed while its replacement was signed`);
    return row;
  });
}

/**
 * Fill a consumed nonce that no live intent holds (its transaction is gone and nothing will ever use it, so every
 * later transaction of the address waits): sign a zero-value transfer to the key itself for it, through the ticket →
 * signer path, recorded and audited, fees at least the market and the bump over any transaction known at that nonce.
 * Returns the signed transaction, or null when the nonce no longer needs filling (re-checked under the nonce lock).
 */
export async function signNonceFill(
  deps: SignDeps,
  params: { chainId: number; address: Address; nonce: number; market: FeeQuote; bumpPercent: number; actor: Actor },
): Promise<{ txHash: Hex; raw: Hex } | null> {
  const { chainId, address, nonce } = params;
  const mined = await deps.chains.latestNonce(chainId, address);
  if (nonce < mined) return null;
  return withTransaction(deps.pool, async (client) => {
    const next = await lockNonceRow(client, chainId, address);
    if (next === null || nonce >= next) return null;
    if (await findNonceHolder(client, chainId, address, nonce)) return null;
    const known = await attemptsAtNonce(client, chainId, address, nonce);
    const floor = known.reduce(
      (acc, a) => ({
        maxFeePerGas: a.maxFeePerGas > acc.maxFeePerGas ? a.maxFeePerGas : acc.maxFeePerGas,
        maxPriorityFeePerGas: a.maxPriorityFeePerGas > acc.maxPriorityFeePerGas ? a.maxPriorityFeePerGas : acc.maxPriorityFeePerGas,
      }),
      { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n },
    );
    const fees = known.length > 0 ? replacementFees(floor, params.market, params.bumpPercent) : params.market;
    deps.chains.assertWithinCaps(chainId, fees);
    const wire = toWireTransaction({ chainId, nonce, to: address, value: 0n, data: '0x', gas: CANCEL_GAS, ...fees });
    const digest = transactionDigest(fromWireTransaction(wire));
    const signed = await signTicketed(deps, `nonce-fill:${chainId}:${address}:${nonce}`, chainId, address, wire, digest);
    await recordNonceFill(client, { chainId, address, nonce, txHash: signed.hash, raw: signed.raw, ...fees }, params.actor);
    return { txHash: signed.hash, raw: signed.raw };
  });
}

/** Gas of a plain transfer of 0 to an account without code (a cancellation or a filler). */
const CANCEL_GAS = 21_000n;

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

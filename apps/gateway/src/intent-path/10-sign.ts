import { getAddress, recoverAddress, type Address, type Hex } from 'viem';
import {
  Clawd402Error,
  SignerError,
  faultPoint,
  logEvent,
  fromWireTransaction,
  toWireTransaction,
  transactionDigest,
  type SignatureResult,
  type WireTransaction,
} from '@clawd402/protocol';
import type { SignTransactionResult } from '@clawd402/signer-client';
import type { FeeQuote } from '../chain/chain-registry.ts';
import { signTicketed, type SignDeps } from '../chain/ticketed-signing.ts';
import { withTransaction } from '../db/pool.ts';
import { haltError, scopesOf } from '../domain/halts.ts';
import type { IntentRecord } from '../domain/intent.ts';
import { readHalts } from '../repositories/halts-repository.ts';
import {
  attemptsAtNonce,
  findIntent,
  lockSigningBatch,
  markSignedBatch,
  transitionIntent,
} from '../repositories/intents-repository.ts';
import { lockNextNonces, seedNonceRows } from '../repositories/nonces-repository.ts';
import { adjustSpend, closeSpend } from '../repositories/spend-repository.ts';
import { BatchLanes, type BatchAnswer } from './batch-lane.ts';
import { SigningLaneKeys } from './signing-lane-keys.ts';

type Queryable = Parameters<typeof attemptsAtNonce>[0];
import type { PreparedSignature } from './signature-intents.ts';

export interface SignRequest {
  intent: IntentRecord;
  call: { to: Address; value: bigint; data: Hex };
  gas: bigint;
  fees: FeeQuote;
  /** The HTTP request that led here, for the signer's log (docs/logging.md); none for background work. */
  requestId?: string;
}

interface Prepared {
  request: SignRequest;
  from: Address;
  nonce: number;
  wire: WireTransaction;
  digest: Hex;
  /** The signer held an unstored signature at this nonce, which this one replaced (see `signAt`). */
  replacedUnstored?: boolean;
}

const MAX_BATCH = 32;

/**
 * Stage 10 — sign, in lanes (batch-lane.ts). Intents queue in memory — holding no database connection — and a lane
 * signs them in batches. The addresses of a chain's in-memory keys share a few lanes, so one batch holds many
 * addresses; a Ledger address, or one the signer has not listed, has a lane of its own (signing-lane-keys.ts). One
 * Postgres transaction per batch locks the batch's nonce rows in address order (serialising batches of the same
 * address across lanes and gateway processes), gives each address's intents its consecutive nonces, has each
 * transaction ticketed and signed (in parallel over the signer's connections, chain/ticketed-signing.ts), stores the
 * signed transactions, appends their audit records and consumes the nonces, then commits. Nothing of a batch is stored
 * unless all of it is audited; nothing leaves the gateway before it is stored (11-submit.ts broadcasts what was stored).
 *
 * If an address's k-th signature in a batch fails, its k first are kept, the failed ones are rejected with their own
 * error, and its later ones that did sign are discarded and queued again for fresh nonces — so each address's stored
 * nonces are always consecutive: no gaps, no duplicates. Other addresses in the batch are not affected.
 *
 * Signature intents (typed data, messages) have no nonce and no lane: {@link signSignature}.
 */
export class SigningLanes {
  private readonly lanes: BatchLanes<SignRequest, IntentRecord>;
  private readonly laneKeys: SigningLaneKeys;
  /** Nonce rows this process knows exist (`chainId:address`): seeded before their first transaction. */
  private readonly seeded = new Set<string>();

  constructor(
    private readonly deps: SignDeps,
    maxBatch = MAX_BATCH,
  ) {
    this.lanes = new BatchLanes((batch) => this.signBatch(batch), maxBatch);
    this.laneKeys = new SigningLaneKeys(deps.signer);
    void this.laneKeys.relist(); // read the signer's key listing now, so the first intents find shared lanes
  }

  /** Resolves when the key listing asked for last (at construction, or for an unlisted address) has been read. */
  keysListed(): Promise<void> {
    return this.laneKeys.listed();
  }

  /**
   * Resolves with the intent in `signed` state — or as it is when it ended before its turn (cancelled, expired at its
   * deadline) — or rejects with the error that stopped it (nothing stored).
   */
  sign(request: SignRequest): Promise<IntentRecord> {
    return this.lanes.run(this.laneKeys.laneOf(request.intent.chainId, request.intent.from!), request);
  }

  /**
   * Sign and store one batch, which may hold several addresses of one chain (signing-lane-keys.ts). The batch's
   * intents are locked first: one cancelled or expired by then is not signed (it resolves as it is), and one whose
   * deadline has passed ends `expired` here.
   */
  private async signBatch(batch: readonly SignRequest[]): Promise<BatchAnswer<IntentRecord>[]> {
    const { pool, chains, log } = this.deps;
    const chainId = batch[0]!.intent.chainId;
    const fromOf = (job: SignRequest) => job.intent.from as Address;
    const addresses = [...new Set(batch.map(fromOf))];
    // Each address's pending count, read concurrently (one JSON-RPC batch), so a key also used outside the gateway
    // never collides; the nonce rows then exist before the transaction locks them.
    const pending = await Promise.all(
      addresses.map(async (address) => ({ address, chainPending: await chains.pendingNonce(chainId, address) })),
    );
    const unseeded = pending.filter((p) => !this.seeded.has(`${chainId}:${p.address}`));
    if (unseeded.length > 0) {
      await seedNonceRows(pool, chainId, unseeded);
      for (const p of unseeded) this.seeded.add(`${chainId}:${p.address}`);
    }
    let live: SignRequest[] = [];
    let prepared: Prepared[] = [];
    let outcomes: PromiseSettledResult<SignTransactionResult>[] = [];
    const ended = new Map<string, IntentRecord>();
    const refused = new Map<string, Error>();
    const expired: string[] = [];
    const forgetSeeds = (error: unknown): never => {
      // A nonce row found missing (or any failure) is seeded again before the next try: one statement, cheap.
      for (const p of pending) this.seeded.delete(`${chainId}:${p.address}`);
      throw error;
    };
    const stored = await withTransaction(pool, async (client) => {
      const firstNonce = await lockNextNonces(client, chainId, pending);
      faultPoint('sign.after_nonce'); // crash tests only (docs/recovery.md)
      // The intents, locked, and the kill switch and pauses, read here under the nonce lock rather than trusted from
      // memory: a process that missed the NOTIFY still signs nothing once the switch is committed (docs/killswitch.md).
      const { intents: current, ...halts } = await lockSigningBatch(
        client,
        batch.map((job) => job.intent.id),
        [...new Set(batch.flatMap((job) => scopesOf(job.intent, chainId)))],
      );
      const now = Date.now();
      live = [];
      for (const job of batch) {
        const row = current.get(job.intent.id);
        const halted =
          row?.status === 'approved'
            ? haltError(
                halts.killSwitch,
                scopesOf(row, chainId).filter((scope) => halts.paused.includes(scope)),
              )
            : null;
        if (row?.status !== 'approved') {
          ended.set(job.intent.id, row ?? job.intent);
        } else if (halted) {
          refused.set(row.id, halted);
        } else if (row.deadline !== null && row.deadline.getTime() <= now) {
          const moved = await transitionIntent(client, row.id, ['approved'], 'expired', {
            fields: {
              error_code: 'deadline_passed',
              error_message: 'The deadline passed before the intent was signed; nothing was signed.',
            },
            audit: {
              actor: 'system:gateway',
              action: 'intent.expired',
              subject: `intent:${row.id}`,
              data: { deadline: row.deadline.toISOString(), stage: 'signing' },
            },
          });
          ended.set(row.id, moved ?? row);
          expired.push(row.id);
        } else {
          live.push({ ...job, intent: row });
        }
      }
      if (live.length === 0) return [];
      // Each address's live intents take its consecutive nonces, in queue order.
      const taken = new Map<string, number>();
      prepared = live.map((job): Prepared => {
        const from = fromOf(job);
        const nonce = firstNonce.get(from)! + (taken.get(from) ?? 0);
        taken.set(from, nonce - firstNonce.get(from)! + 1);
        const wire = toWireTransaction({ chainId, nonce, ...job.call, gas: job.gas, ...job.fees });
        return { request: job, from, nonce, wire, digest: transactionDigest(fromWireTransaction(wire)) };
      });
      outcomes = await Promise.allSettled(prepared.map((p) => this.signAt(client, chainId, p)));
      faultPoint('sign.after_signer_reply'); // crash tests only (docs/recovery.md)
      // Per address, what signed before its first failure is kept; so its stored nonces stay consecutive.
      const failedAt = new Map<string, number>();
      prepared.forEach((p, i) => {
        if (outcomes[i]!.status === 'rejected' && !failedAt.has(p.from)) failedAt.set(p.from, p.nonce);
      });
      const kept = prepared.filter((p) => p.nonce < (failedAt.get(p.from) ?? Number.POSITIVE_INFINITY));
      if (kept.length === 0) return [];
      const next = new Map<string, number>();
      for (const p of kept) next.set(p.from, Math.max(next.get(p.from) ?? 0, p.nonce + 1));
      const signedRows = kept.map((p) => {
        const result = (outcomes[prepared.indexOf(p)] as PromiseFulfilledResult<SignTransactionResult>).value;
        return {
          id: p.request.intent.id,
          from: p.from,
          nonce: p.nonce,
          txHash: result.hash,
          raw: result.raw,
          gasLimit: p.request.gas,
          maxFeePerGas: p.request.fees.maxFeePerGas,
          maxPriorityFeePerGas: p.request.fees.maxPriorityFeePerGas,
          route: chains.routeFor(chainId, p.request.intent.valueUsdMicros),
          locked: p.request.intent,
        };
      });
      const rows = await markSignedBatch(
        client,
        signedRows,
        signedRows.map((r, i) => ({
          actor: 'system:gateway' as const,
          action: 'intent.signed',
          subject: `intent:${r.id}`,
          data: {
            chainId,
            from: r.from,
            nonce: r.nonce,
            digest: kept[i]!.digest,
            txHash: r.txHash,
            gas: r.gasLimit.toString(),
            maxFeePerGas: r.maxFeePerGas.toString(),
            maxPriorityFeePerGas: r.maxPriorityFeePerGas.toString(),
            route: r.route,
            ...(kept[i]!.replacedUnstored ? { replacedUnstoredSignature: true } : {}),
          },
        })),
        { chainId, next: [...next].map(([address, n]) => ({ address, next: n })) },
      );
      if (rows.length !== kept.length) throw new Error('an intent left approved while it was being signed');
      return rows;
    }).catch(forgetSeeds);
    // Expired before signing: nothing left to spend (the tracker's sweep retries if this fails).
    for (const id of expired)
      await closeSpend(pool, id).catch((error: unknown) =>
        log.error({ err: error, intentId: id }, 'could not release the reservation'),
      );
    for (const row of stored)
      logEvent(log, 'intent.signed', { intentId: row.id, chainId, nonce: row.nonce, txHash: row.txHash });
    const byId = new Map(stored.map((r) => [r.id, r]));
    const outcomeOf = new Map(prepared.map((p, i) => [p.request.intent.id, outcomes[i]!]));
    return batch.map((job): BatchAnswer<IntentRecord> => {
      const gone = ended.get(job.intent.id);
      if (gone) return { ok: true, value: gone };
      const halt = refused.get(job.intent.id);
      if (halt) return { ok: false, error: halt }; // the orchestrator fails it with the halt's code
      const row = byId.get(job.intent.id);
      if (row) return { ok: true, value: row };
      const outcome = outcomeOf.get(job.intent.id);
      if (outcome?.status === 'rejected') return { ok: false, error: outcome.reason };
      return { retry: true }; // signed after its address's earlier failure: its nonce is not the next one; sign again
    });
  }

  /**
   * Sign one prepared transaction at its nonce. The signer's own nonce guard refuses a second, different transaction
   * at a nonce it already signed (`nonce_already_signed`). When Postgres holds no transaction at that nonce — checked
   * here, under the nonce row's lock — the earlier signature was never stored, so it never left the gateway (only
   * stored transactions are broadcast): a batch whose earlier signature failed discarded it, or a process died
   * between the signer's reply and its commit. Then, and only then, this transaction replaces it (`replace` ticket,
   * noted in its audit record). A nonce that holds a stored transaction is never re-signed here.
   */
  private async signAt(client: Queryable, chainId: number, p: Prepared): Promise<SignTransactionResult> {
    const { from } = p;
    try {
      return await signTicketed(this.deps, p.request.intent.id, chainId, from, p.wire, p.digest, {
        requestId: p.request.requestId,
      });
    } catch (error) {
      if (!(error instanceof SignerError && error.code === 'nonce_already_signed')) throw error;
      if ((await attemptsAtNonce(client, chainId, from, p.nonce)).length > 0) throw error;
      this.deps.log.warn(
        { intentId: p.request.intent.id, chainId, from, nonce: p.nonce },
        'the signer held an unstored signature at this nonce; replacing it',
      );
      p.replacedUnstored = true;
      return signTicketed(this.deps, p.request.intent.id, chainId, from, p.wire, p.digest, {
        nonceMode: 'replace',
        requestId: p.request.requestId,
      });
    }
  }
}

/**
 * Stage 10 for signature intents: ticket (`typed_data` / `personal_sign`, bound to the digest) → signer → check the
 * signature recovers to the key over exactly that digest → store it with its audit record (one statement), `signed`.
 * A reserved transfer authorisation (EIP-3009) is then committed: a signature has no receipt to settle. Throws the
 * step's error; the orchestrator fails the intent with its code.
 */
export async function signSignature(
  deps: SignDeps,
  intent: IntentRecord,
  prepared: Pick<PreparedSignature, 'payload' | 'digest'>,
  requestId?: string,
): Promise<IntentRecord> {
  const { pool, tickets, signer, log } = deps;
  const from = getAddress(intent.from!);
  const { payload, digest } = prepared;
  // The signer has no method for EIP-7702 authorisations: an allowed one stops here (docs/signatures.md).
  if (payload.kind === 'authorization' || digest === null) throw new Clawd402Error('eip7702_signing_unsupported');
  const operation = payload.kind === 'typed_data' ? 'typed_data' : 'personal_sign';
  const halts = await readHalts(pool, scopesOf(intent, intent.chainId));
  const halted = haltError(halts.killSwitch, halts.paused);
  if (halted) throw halted;
  const ticket = await tickets.issue({
    intentId: intent.id,
    chainId: intent.chainId,
    signerKeyId: from,
    digest,
    operation,
  });
  const result =
    payload.kind === 'typed_data'
      ? await signer.signTypedData({ ticket, typedData: payload.typedData }, { requestId })
      : await signer.signMessage({ ticket, message: payload.bytes }, { requestId });
  await assertSignatureAsAsked(result, from, digest);
  const signed = await transitionIntent(pool, intent.id, ['approved'], 'signed', {
    fields: { signature: result.signature.toLowerCase() },
    detail: { operation, digest },
    audit: {
      actor: 'system:gateway',
      action: 'intent.signed',
      subject: `intent:${intent.id}`,
      data: { chainId: intent.chainId, from, operation, digest },
    },
  });
  if (!signed) {
    // Moved meanwhile (cancelled, or failed by the abandoned-approval sweep): the signature is dropped, never returned.
    log.warn(
      { intentId: intent.id },
      'signature intent left approved while it was signed; the signature was discarded',
    );
    return (await findIntent(pool, intent.id)) ?? intent;
  }
  // A reserved transfer authorisation is now spent: its spend stays counted (a signature has no receipt to settle).
  // An x402 payment stays reserved until its transfer is seen on chain or its window ends (x402-settlement.ts).
  if (intent.type === 'x402_payment') return signed;
  await adjustSpend(pool, intent.id, { to: 'committed' }).catch((error: unknown) =>
    log.error({ err: error, intentId: intent.id }, 'could not commit the reservation'),
  );
  return signed;
}

/** The signer must hand back a signature by the ticketed key over exactly the ticketed digest. */
async function assertSignatureAsAsked(result: SignatureResult, from: Address, digest: Hex): Promise<void> {
  const recovered = await recoverAddress({ hash: digest, signature: result.signature }).catch(() => null);
  if (
    result.digest.toLowerCase() !== digest.toLowerCase() ||
    result.from.toLowerCase() !== from.toLowerCase() ||
    recovered?.toLowerCase() !== from.toLowerCase()
  ) {
    throw new SignerError('signer_internal', 'signer returned a signature other than the one ticketed');
  }
}

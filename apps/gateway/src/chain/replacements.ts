import type { Address, Hex } from 'viem';
import { parseTransaction } from 'viem';
import { Clawd402Error, fromWireTransaction, toWireTransaction, transactionDigest } from '@clawd402/protocol';
import { withTransaction } from '../db/pool.ts';
import type { IntentRecord } from '../domain/intent.ts';
import type { Actor } from '../repositories/audit-repository.ts';
import {
  attemptsAtNonce,
  findNonceHolder,
  lockIntents,
  recordReplacement,
} from '../repositories/intents-repository.ts';
import { lockNonceRow, recordNonceFill } from '../repositories/nonces-repository.ts';
import { replacementFees, type FeeQuote } from './chain-registry.ts';
import { signTicketed, type SignDeps } from './ticketed-signing.ts';

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
    if (
      !intent ||
      (intent.status !== 'signed' && intent.status !== 'submitted') ||
      !intent.rawTx ||
      !intent.txHash ||
      !intent.from
    )
      return null;
    if (request.expectTxHash !== undefined && intent.txHash !== request.expectTxHash) return null;
    if (
      request.kind === 'speedup' &&
      intent.cancelReason === null &&
      intent.deadline !== null &&
      intent.deadline.getTime() <= Date.now()
    ) {
      throw new Clawd402Error('deadline_passed', "The intent's deadline has passed; it is not resubmitted.", {
        details: { intentId: intent.id },
      });
    }
    const from = intent.from as Address;
    const current = parseTransaction(intent.rawTx as Hex);
    if (current.type !== 'eip1559' || current.nonce === undefined)
      throw new Error(`intent ${intent.id} holds a transaction that is not EIP-1559`);
    const fees = replacementFees(
      { maxFeePerGas: current.maxFeePerGas ?? 0n, maxPriorityFeePerGas: current.maxPriorityFeePerGas ?? 0n },
      request.market,
      request.bumpPercent,
    );
    deps.chains.assertWithinCaps(intent.chainId, fees);
    // A cancellation moves nothing: the nonce is spent on a plain transfer of 0 to the key itself.
    const call =
      request.kind === 'cancel'
        ? { to: from, value: 0n, data: '0x' as Hex, gas: CANCEL_GAS }
        : { to: current.to!, value: current.value ?? 0n, data: current.data ?? '0x', gas: current.gas! };
    const wire = toWireTransaction({ chainId: intent.chainId, nonce: current.nonce, ...call, ...fees });
    const digest = transactionDigest(fromWireTransaction(wire));
    const signed = await signTicketed(deps, intent.id, intent.chainId, from, wire, digest);
    const action = request.kind === 'cancel' ? 'intent.cancel_signed' : 'intent.speedup_signed';
    const row = await recordReplacement(
      client,
      {
        intentId: intent.id,
        kind: request.kind,
        replaces: intent.txHash,
        txHash: signed.hash,
        raw: signed.raw,
        gasLimit: call.gas,
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
        cancelReason: request.cancelReason ?? null,
        actor: request.actor,
      },
      {
        actor: request.actor,
        action,
        subject: `intent:${intent.id}`,
        data: {
          chainId: intent.chainId,
          from,
          nonce: current.nonce,
          digest,
          txHash: signed.hash,
          replaces: intent.txHash,
          route: intent.submitRoute ?? 'public',
          maxFeePerGas: fees.maxFeePerGas.toString(),
          maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
          reason: request.cancelReason ?? null,
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
        maxPriorityFeePerGas:
          a.maxPriorityFeePerGas > acc.maxPriorityFeePerGas ? a.maxPriorityFeePerGas : acc.maxPriorityFeePerGas,
      }),
      { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n },
    );
    const fees = known.length > 0 ? replacementFees(floor, params.market, params.bumpPercent) : params.market;
    deps.chains.assertWithinCaps(chainId, fees);
    const wire = toWireTransaction({ chainId, nonce, to: address, value: 0n, data: '0x', gas: CANCEL_GAS, ...fees });
    const digest = transactionDigest(fromWireTransaction(wire));
    const signed = await signTicketed(
      deps,
      `nonce-fill:${chainId}:${address}:${nonce}`,
      chainId,
      address,
      wire,
      digest,
    );
    await recordNonceFill(
      client,
      { chainId, address, nonce, txHash: signed.hash, raw: signed.raw, ...fees },
      params.actor,
    );
    return { txHash: signed.hash, raw: signed.raw };
  });
}

/** Gas of a plain transfer of 0 to an account without code (a cancellation or a filler). */
const CANCEL_GAS = 21_000n;

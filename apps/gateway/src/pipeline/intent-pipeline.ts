import { createHash, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import { keccak256, parseTransaction, serializeTransaction, type Address, type Hex } from 'viem';
import {
  Clawd402Error,
  SignerError,
  fromWireTransaction,
  toWireTransaction,
  transactionDigest,
  type ApiErrorCode,
  type Decision,
  type IntentBody,
} from '@clawd402/protocol';
import { evaluate, type IntentFacts, type PolicySet } from '@clawd402/policy';
import type { SignerClient, TicketIssuer } from '@clawd402/signer-client';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import { isDatabaseUnavailable, withTransaction } from '../db/pool.ts';
import { canonicalJson } from '../lib/canonical-json.ts';
import { appendAudit } from '../repositories/audit-repository.ts';
import { findAgent } from '../repositories/agents-repository.ts';
import {
  findByIdempotencyKey,
  findIntent,
  insertIntent,
  transitionIntent,
  type IntentRecord,
} from '../repositories/intents-repository.ts';
import { consumeNonce, lockNextNonce } from '../repositories/nonces-repository.ts';
import type { Principal } from '../security/tokens.ts';
import { normalizeIntent, type NormalizedIntent } from './normalize.ts';

export interface PipelineDeps {
  pool: pg.Pool;
  chains: ChainRegistry;
  policy: () => PolicySet;
  signer: SignerClient;
  tickets: TicketIssuer;
  log: FastifyBaseLogger;
}

export interface PipelineResult {
  intent: IntentRecord;
  /** False when an Idempotency-Key retry returned an existing intent. */
  created: boolean;
}

/**
 * One intent, top to bottom:
 *   idempotency → normalise → policy → record decision (+audit) → [reject: stop]
 *   → gas and fees → lock nonce → ticket → sign → store signed tx (+audit) and consume nonce → submit (+audit).
 * Authentication, authorisation and schema validation happen before (route hooks); receipts after (tracker).
 * Money fails closed: any failure before the signed transaction is stored leaves nothing signed that can leave.
 */
export class IntentPipeline {
  constructor(private readonly deps: PipelineDeps) {}

  async submit(principal: Principal, body: IntentBody, idempotencyKey: string | null): Promise<PipelineResult> {
    const requestHash = hashRequest(body);
    if (idempotencyKey !== null) {
      const existing = await findByIdempotencyKey(this.deps.pool, principal.agentId, idempotencyKey);
      if (existing) return { intent: assertSameRequest(existing, requestHash), created: false };
    }
    const agent = await findAgent(this.deps.pool, principal.agentId);
    if (!agent || agent.disabled) throw new Clawd402Error('forbidden', 'The agent is disabled.');

    const intent = await normalizeIntent(body, this.deps.chains);
    const policy = this.deps.policy();
    const decision = evaluate(policy, toFacts(intent));

    const recorded = await this.recordDecision(principal, agent.signerAddress, intent, decision, requestHash, idempotencyKey);
    if (!recorded.created || recorded.intent.status !== 'approved') return recorded;

    const signed = await this.sign(recorded.intent, intent);
    if (signed.status !== 'signed') return { intent: signed, created: true };
    return { intent: await this.submitSigned(signed), created: true };
  }

  private async recordDecision(
    principal: Principal,
    from: Address,
    intent: NormalizedIntent,
    decision: Decision,
    requestHash: string,
    idempotencyKey: string | null,
  ): Promise<PipelineResult> {
    const id = randomUUID();
    // Only auto_approve proceeds; anything else (including actions this build cannot carry out) is a rejection.
    const status = decision.action === 'auto_approve' ? 'approved' : 'rejected';
    const inserted = await withTransaction(this.deps.pool, async (client) => {
      const row = await insertIntent(client, {
        id,
        agentId: principal.agentId,
        apiKeyId: principal.apiKeyId,
        idempotencyKey,
        requestHash,
        status,
        type: intent.type,
        chainId: intent.chainId,
        from,
        to: intent.call.to,
        recipient: intent.recipient,
        asset: intent.asset,
        amount: intent.amount,
        decimals: intent.decimals,
        data: intent.data,
        memo: intent.memo,
        decision,
      });
      if (!row) return null;
      await appendAudit(client, {
        actor: `agent:${principal.agentId}`,
        action: 'intent.decided',
        subject: `intent:${id}`,
        data: {
          apiKeyId: principal.apiKeyId,
          requestHash,
          type: intent.type,
          chainId: intent.chainId,
          recipient: intent.recipient,
          asset: intent.asset,
          amount: intent.amount.toString(),
          action: decision.action,
          policy: decision.policy,
          policySetHash: decision.policySetHash,
          reasons: decision.reasons.map((r) => r.code),
          status,
        },
      });
      return row;
    });
    if (inserted) return { intent: inserted, created: true };
    // Lost an idempotency race to a concurrent request with the same key: answer with the winner's intent.
    const existing = await findByIdempotencyKey(this.deps.pool, principal.agentId, idempotencyKey!);
    if (!existing) throw new Error('idempotent insert conflicted but no intent was found');
    return { intent: assertSameRequest(existing, requestHash), created: false };
  }

  /**
   * Build, ticket and sign the transaction, and store it with its nonce in one Postgres transaction that also holds
   * the nonce row lock and appends the audit record. If any step fails the transaction rolls back: the nonce is not
   * consumed, the signed bytes are dropped, and the intent is marked failed with the step's code.
   */
  private async sign(intent: IntentRecord, normalized: NormalizedIntent): Promise<IntentRecord> {
    const { chains, pool, tickets, signer } = this.deps;
    const from = intent.from as Address;
    try {
      const [gas, fees, chainPending] = await Promise.all([
        chains.estimateGas(intent.chainId, { from, ...normalized.call }),
        chains.feeQuote(intent.chainId),
        chains.pendingNonce(intent.chainId, from),
      ]);
      return await withTransaction(pool, async (client) => {
        const nonce = await lockNextNonce(client, intent.chainId, from, chainPending);
        const wire = toWireTransaction({ chainId: intent.chainId, nonce, ...normalized.call, gas, ...fees });
        const unsigned = fromWireTransaction(wire);
        const digest = transactionDigest(unsigned);
        const ticket = await tickets.issue({ intentId: intent.id, chainId: intent.chainId, signerKeyId: from, digest });
        const signed = await signer.signTransaction({ ticket, transaction: wire });
        assertSignedAsAsked(signed.raw, signed.hash, signed.from, from, digest);
        const updated = await transitionIntent(client, intent.id, ['approved'], 'signed', {
          from_address: from,
          nonce,
          tx_hash: signed.hash,
          raw_tx: signed.raw,
          gas_limit: gas,
          max_fee_per_gas: fees.maxFeePerGas,
        });
        if (!updated) throw new Error(`intent ${intent.id} left 'approved' while being signed`);
        await appendAudit(client, {
          actor: 'system:gateway',
          action: 'intent.signed',
          subject: `intent:${intent.id}`,
          data: { chainId: intent.chainId, from, nonce, digest, txHash: signed.hash, gas: gas.toString(), maxFeePerGas: fees.maxFeePerGas.toString() },
        });
        await consumeNonce(client, intent.chainId, from, nonce);
        return updated;
      });
    } catch (error) {
      const code = failureCode(error);
      this.deps.log[code === 'internal_error' ? 'error' : 'warn']({ err: error, intentId: intent.id, code }, 'intent not signed');
      return this.fail(intent, ['approved'], code, error instanceof Clawd402Error ? error.message : undefined);
    }
  }

  /** Broadcast a stored signed transaction. A failed broadcast leaves the intent `signed`; the tracker retries it. */
  async submitSigned(intent: IntentRecord): Promise<IntentRecord> {
    try {
      await this.deps.chains.sendRawTransaction(intent.chainId, intent.rawTx as Hex);
    } catch (error) {
      if (!/already known|known transaction/i.test(String((error as Error).message))) {
        this.deps.log.warn({ err: error, intentId: intent.id }, 'broadcast failed; the tracker will retry');
        return intent;
      }
    }
    const updated = await withTransaction(this.deps.pool, async (client) => {
      const row = await transitionIntent(client, intent.id, ['signed'], 'submitted');
      if (row) {
        await appendAudit(client, {
          actor: 'system:gateway',
          action: 'intent.submitted',
          subject: `intent:${intent.id}`,
          data: { chainId: intent.chainId, txHash: intent.txHash },
        });
      }
      return row;
    }).catch((error: unknown) => {
      // The transaction is out; only the bookkeeping failed. The tracker settles it from the receipt.
      this.deps.log.error({ err: error, intentId: intent.id }, 'could not record submission');
      return null;
    });
    // Lost the compare-and-set: a tracker (perhaps in another process) already settled it from the receipt.
    return updated ?? (await findIntent(this.deps.pool, intent.id)) ?? intent;
  }

  private async fail(intent: IntentRecord, from: IntentRecord['status'][], code: ApiErrorCode, message?: string): Promise<IntentRecord> {
    const text = message ?? errorMessage(code);
    try {
      const failed = await withTransaction(this.deps.pool, async (client) => {
        const row = await transitionIntent(client, intent.id, from, 'failed', { error_code: code, error_message: text });
        if (row) {
          await appendAudit(client, {
            actor: 'system:gateway',
            action: 'intent.failed',
            subject: `intent:${intent.id}`,
            data: { code },
          });
        }
        return row;
      });
      return failed ?? intent;
    } catch (error) {
      // Could not even record the failure (database down). Nothing was signed that can leave; say so.
      this.deps.log.error({ err: error, intentId: intent.id }, 'could not record intent failure');
      throw new Clawd402Error(code, text, { cause: error });
    }
  }
}

function errorMessage(code: ApiErrorCode): string {
  return new Clawd402Error(code).message;
}

/** Map a failure during signing to the code the agent sees. */
function failureCode(error: unknown): ApiErrorCode {
  if (error instanceof Clawd402Error) return error.code;
  if (error instanceof SignerError) return 'signer_refused';
  if (isDatabaseUnavailable(error)) return 'database_unavailable';
  return 'internal_error';
}

/**
 * The signer must hand back exactly what the ticket allowed. Belt and braces: a signer that returned a different
 * transaction, or signed with another key, is refused before anything is stored.
 */
function assertSignedAsAsked(raw: Hex, hash: Hex, signedFrom: string, expectedFrom: Address, digest: Hex): void {
  const parsed = parseTransaction(raw);
  const { r: _r, s: _s, v: _v, yParity: _y, ...unsigned } = parsed;
  const ok =
    keccak256(raw) === hash &&
    signedFrom.toLowerCase() === expectedFrom.toLowerCase() &&
    parsed.type === 'eip1559' &&
    keccak256(serializeTransaction(unsigned)) === digest;
  if (!ok) throw new SignerError('signer_internal', 'signer returned a transaction other than the one ticketed');
}

function hashRequest(body: IntentBody): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

function assertSameRequest(existing: IntentRecord, requestHash: string): IntentRecord {
  if (existing.requestHash !== requestHash) {
    throw new Clawd402Error('idempotency_key_reused', undefined, { details: { intentId: existing.id } });
  }
  return existing;
}

function toFacts(intent: NormalizedIntent): IntentFacts {
  return {
    type: intent.type,
    chainId: intent.chainId,
    recipient: intent.recipient,
    asset: intent.asset,
    amount: intent.amount,
    decimals: intent.decimals,
  };
}

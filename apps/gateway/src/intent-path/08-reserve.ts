import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Address } from 'viem';
import type { Decision } from '@clawd402/protocol';
import { faultPoint, logEvent } from '@clawd402/protocol';
import type { PolicySet } from '@clawd402/policy';
import { withTransaction } from '../db/pool.ts';
import type { IntentRecord } from '../domain/intent.ts';
import type { Logger } from '../domain/logger.ts';
import { formatUsd } from '../domain/usd.ts';
import { BREAKER_COLOURS, breakerLevel, levelRank, thresholdOfLevel, thresholdsOf } from '../money/breakers.ts';
import type { Valuation } from '../money/price-book.ts';
import type { AuditEntry } from '../repositories/audit-repository.ts';
import { insertIntentsBatch, transitionIntent, type NewIntent } from '../repositories/intents-repository.ts';
import { enqueueNotification } from '../repositories/notifications-repository.ts';
import {
  GLOBAL_SCOPE,
  agentScope,
  currentSpendMinute,
  keyScope,
  lockScopes,
  readSpend,
  reserveSpend,
  setBreakerLevel,
  type ScopeRow,
  type ScopeSpend,
} from '../repositories/spend-repository.ts';
import { BatchLanes, type BatchAnswer } from './batch-lane.ts';
import {
  addSpend,
  applyMoney,
  decide,
  valuationRecord,
  type DecisionRequest,
  type MoneySettings,
} from './07-decide.ts';
import type { Cost } from './06-value.ts';
import { createApprovalRequest } from './09-approve.ts';

export interface ReserveDeps {
  pool: pg.Pool;
  policy: () => PolicySet;
  money: MoneySettings;
  log: Logger;
}

const MAX_BATCH = 64;
/**
 * Decision lanes per process. An agent always uses the same lane (its intents stay in arrival order); a lane's batch
 * may hold several agents, so many quiet agents share one transaction (and one audit-chain commit) instead of paying
 * one each. Batches of different lanes run in parallel. One lane: the next batch takes everything that queued while
 * one was written, so under load batches grow instead of transactions multiplying. With 64 agents, 1 lane against 4
 * halved the gateway's CPU per intent (docs/benchmarks.md, seventh round).
 */
const LANES = 1;

function laneOf(agentId: string): string {
  let hash = 0;
  for (let i = 0; i < agentId.length; i++) hash = (hash * 31 + agentId.charCodeAt(i)) >>> 0;
  return `lane-${hash % LANES}`;
}

/**
 * Stage 8 — reserve: deciding and reserving are one critical section across every gateway process, so parallel
 * requests cannot race past a limit. Intents queue in a lane per process (batch-lane.ts); a lane takes a batch in one
 * Postgres transaction. One statement locks the spend scopes of its agents and keys (in a fixed order, so
 * transactions never wait in a cycle) and then the global scope when it carries a limit; the next reads their rolling
 * spend (a statement of its own, so its snapshot is taken after the locks are held and sees every reservation
 * committed before them). Then, intent by intent, in memory and in arrival order, each is decided with the
 * reservations before it (07-decide.ts). One statement records the whole batch — intents with everything earlier
 * stages learnt, their events, their audit records and the reservations of those approved — then approval requests
 * are created (09-approve.ts) and breaker changes recorded before COMMIT: five round trips for the batch, BEGIN and
 * COMMIT included, when nothing awaits a human and no breaker moves.
 *
 * `decide` resolves with the recorded intent, or null when an Idempotency-Key race was lost (the caller reads the
 * winner).
 */
export class DecisionLanes {
  private readonly lanes: BatchLanes<DecisionRequest, IntentRecord | null>;

  constructor(
    private readonly deps: ReserveDeps,
    maxBatch = MAX_BATCH,
  ) {
    this.lanes = new BatchLanes((batch) => this.decideBatch(batch), maxBatch);
  }

  decide(request: DecisionRequest): Promise<IntentRecord | null> {
    return this.lanes.run(laneOf(request.principal.agentId), request);
  }

  private decideBatch(batch: readonly DecisionRequest[]): Promise<BatchAnswer<IntentRecord | null>[]> {
    const { money } = this.deps;
    const policy = this.deps.policy();
    return withTransaction(this.deps.pool, async (client) => {
      const scopeNames = new Set<string>();
      for (const job of batch) {
        scopeNames.add(agentScope(job.principal.agentId));
        scopeNames.add(keyScope(job.principal.apiKeyId));
      }
      const rows = await lockScopes(client, [...scopeNames]);
      const spend = await readSpend(client, [...scopeNames, GLOBAL_SCOPE]);

      // Decide every intent of the batch in memory, in arrival order, each seeing the reservations before it.
      const decided: {
        job: DecisionRequest;
        row: NewIntent;
        audit: AuditEntry;
        decision: Decision;
        scopes: string[];
      }[] = [];
      for (const job of batch) {
        const scopes = [agentScope(job.principal.agentId), keyScope(job.principal.apiKeyId), GLOBAL_SCOPE];
        const verdict = decide(policy, job, scopes, rows, spend, money);
        const status =
          verdict.decision.action === 'auto_approve'
            ? 'approved'
            : verdict.decision.action === 'require_human_approval'
              ? 'pending_approval'
              : 'rejected';
        const id = randomUUID();
        if (verdict.reserve > 0n) for (const scope of scopes) addSpend(spend.get(scope)!, verdict.reserve);
        decided.push({
          job,
          decision: verdict.decision,
          scopes,
          row: {
            id,
            agentId: job.principal.agentId,
            apiKeyId: job.principal.apiKeyId,
            idempotencyKey: job.idempotencyKey,
            requestHash: job.requestHash,
            status,
            type: job.intent.type,
            chainId: job.intent.chainId,
            from: job.principal.signerAddress,
            to: job.intent.call.to,
            recipient: job.intent.recipient,
            asset: job.intent.asset,
            amount: job.intent.amount,
            decimals: job.intent.decimals,
            data: job.intent.data,
            memo: job.intent.memo,
            decision: verdict.decision,
            origin: job.principal.origin,
            money: {
              valueUsd: job.value.status === 'ok' ? job.value.usd : null,
              feeUsd: job.cost.usd.status === 'ok' ? job.cost.usd.usd : null,
              reserved: verdict.reserve,
              valuation: valuationRecord(job),
              gas: job.cost.gas,
              fees: job.cost.fees,
            },
            stored: job.stored,
          },
          audit: {
            actor: `agent:${job.principal.agentId}`,
            action: 'intent.decided',
            subject: `intent:${id}`,
            data: {
              apiKeyId: job.principal.apiKeyId,
              origin: job.principal.origin,
              requestHash: job.requestHash,
              type: job.intent.type,
              chainId: job.intent.chainId,
              recipient: job.intent.recipient,
              asset: job.intent.asset,
              amount: job.intent.amount.toString(),
              action: verdict.decision.action,
              policy: verdict.decision.policy,
              policySetHash: verdict.decision.policySetHash,
              reasons: verdict.decision.reasons.map((r) => r.code),
              valueUsd: verdict.decision.money?.valueUsd ?? null,
              reservedUsd: formatUsd(verdict.reserve),
              status,
            },
          },
        });
      }

      // Record them in one statement: the intents, their events, their audit records (in order) and reservations.
      const inserted = await insertIntentsBatch(
        client,
        decided.map((d) => d.row),
        decided.map((d) => d.audit),
      );
      const answers: BatchAnswer<IntentRecord | null>[] = [];
      for (const d of decided) {
        const record = inserted.get(d.row.id) ?? null;
        if (record === null && (d.row.money?.reserved ?? 0n) > 0n) {
          // Lost an Idempotency-Key race: nothing was recorded, so its in-memory reservation does not count.
          for (const scope of d.scopes) addSpend(spend.get(scope)!, -d.row.money!.reserved, -1);
        }
        if (record !== null && record.status === 'pending_approval')
          await createApprovalRequest(client, record, d.decision, d.job.principal.agentId);
        answers.push({ ok: true, value: record });
      }
      await this.recordBreakers(client, rows, spend);
      faultPoint('reserve.before_commit'); // crash tests only (docs/recovery.md)
      return answers;
    });
  }

  /**
   * A human approved `intent` (pending_approval): check its budgets again under the same locks a decision takes —
   * emergency and hard breakers, prices, spend limits (the soft breaker is what the human just answered) — and either
   * move it to `approved` with its reservation, or reject it with the reason. Returns the intent as it now stands.
   */
  async reserveApproved(intent: IntentRecord, value: Valuation, cost: Cost): Promise<IntentRecord> {
    const { money } = this.deps;
    return withTransaction(this.deps.pool, async (client) => {
      const scopes = [agentScope(intent.agentId), keyScope(intent.apiKeyId ?? ''), GLOBAL_SCOPE];
      const rows = await lockScopes(client, scopes.slice(0, 2));
      const spend = await readSpend(client, scopes);
      const base: Decision = { ...intent.decision!, action: 'auto_approve' };
      const verdict = applyMoney(
        base,
        { intent: { recipient: intent.recipient as Address }, value, cost },
        scopes,
        rows,
        spend,
        money,
        true,
      );
      if (verdict.decision.action !== 'auto_approve') {
        const reasons = verdict.decision.reasons.slice(base.reasons.length);
        const moved = await transitionIntent(client, intent.id, ['pending_approval'], 'rejected', {
          fields: { error_code: reasons[0]?.code ?? 'spend.limit_exceeded', error_message: reasons[0]?.message ?? '' },
          detail: { after: 'approval', reasons: reasons.map((r) => r.code) },
          audit: {
            actor: 'system:gateway',
            action: 'intent.rejected_after_approval',
            subject: `intent:${intent.id}`,
            data: { reasons: reasons.map((r) => r.code) },
          },
        });
        return moved ?? intent;
      }
      const moved = await transitionIntent(client, intent.id, ['pending_approval'], 'approved', {
        fields: {
          value_usd_micros: value.status === 'ok' ? value.usd : null,
          fee_usd_micros: cost.usd.status === 'ok' ? cost.usd.usd : null,
          spend_usd_micros: verdict.reserve,
          spend_state: 'reserved',
          spend_minute: await currentSpendMinute(client),
          gas_limit: cost.gas,
          max_fee_per_gas: cost.fees.maxFeePerGas,
          valuation: JSON.stringify({
            ...valuationRecord({ value, cost }),
            maxFeePerGas: cost.fees.maxFeePerGas.toString(),
            maxPriorityFeePerGas: cost.fees.maxPriorityFeePerGas.toString(),
          }),
        },
        detail: { after: 'approval', reservedUsd: formatUsd(verdict.reserve) },
        audit: {
          actor: 'system:gateway',
          action: 'intent.approved',
          subject: `intent:${intent.id}`,
          data: { reservedUsd: formatUsd(verdict.reserve), valueUsd: verdict.decision.money?.valueUsd ?? null },
        },
      });
      if (!moved) return intent;
      await reserveSpend(client, [intent.id]);
      return moved;
    });
  }

  /** Breaker levels after a batch: record every change (audit; an alert when rising; latch at emergency). */
  private async recordBreakers(
    client: pg.PoolClient,
    rows: ReadonlyMap<string, ScopeRow>,
    spend: ReadonlyMap<string, ScopeSpend>,
  ): Promise<void> {
    const { money } = this.deps;
    for (const [scope, row] of rows) {
      const thresholds = thresholdsOf(row, money.breaker);
      const spentUsd = spend.get(scope)?.breakerUsd ?? 0n;
      const level = breakerLevel(spentUsd, thresholds, row.latchedAt !== null);
      if (level === row.level) continue;
      const threshold = thresholdOfLevel(level, thresholds);
      await setBreakerLevel(client, scope, row.level, level, {
        spendUsd: formatUsd(spentUsd),
        thresholdUsd: threshold === null ? null : formatUsd(threshold),
      });
      logEvent(this.deps.log, 'money.breaker_level_changed', { scope, from: row.level, to: level });
      if (levelRank(level) <= levelRank(row.level)) continue;
      for (const channel of money.alertChannels) {
        await enqueueNotification(client, {
          channel,
          event: `breaker.${level}`,
          subject: `Circuit breaker ${BREAKER_COLOURS[level]} (${level}) for ${scope}: ${formatUsd(spentUsd)} USD in 24 h`,
          payload: { scope, from: row.level, to: level, state: BREAKER_COLOURS[level], spendUsd: formatUsd(spentUsd) },
        });
      }
    }
  }
}

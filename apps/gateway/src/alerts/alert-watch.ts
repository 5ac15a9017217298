import type pg from 'pg';
import type { EndpointHealth } from '../chain/rpc-pool.ts';
import { ALERT_KINDS, type AlertInput } from '../domain/alert.ts';
import type { Logger } from '../domain/logger.ts';
import { formatUsd } from '../domain/usd.ts';
import {
  findExpiringApprovals,
  findFailureBursts,
  findFirstPayments,
  findGasSpikes,
  findRapidSpenders,
  hasRecentAlert,
  raiseAlert,
} from '../repositories/alerts-repository.ts';

export interface AlertWatchSettings {
  /** Failed intents per agent or destination address within `failureWindowSeconds` that raise `transactions_failing`. */
  failureThreshold: number;
  failureWindowSeconds: number;
  /** A fee per gas above this multiple of the chain's trailing median raises `gas_spike`. */
  gasSpikeFactor: number;
  /** An agent's spend in the last hour above this (micro-USD) raises `rapid_spending`. */
  hourlySpendUsdMicros: bigint;
  /** A pending approval expiring within this raises `approval_expiring`. */
  approvalExpiringSeconds: number;
  /** A condition still true is raised again only after this (the router's deduplication window). */
  dedupSeconds: number;
}

/** Endpoint health per chain, as the chain registry reports it. */
export type HealthSource = () => { chainId: number; rpc: EndpointHealth[]; relay: EndpointHealth[] }[];

/**
 * Watches for conditions no single request sees (docs/incidents.md): bursts of failed transactions, gas spikes,
 * rapid spending, first payments to a new recipient, approvals about to expire, RPC endpoints down or failed over.
 * Each pass raises an alert per condition found (a condition still true is raised again only after the
 * deduplication window); the router delivers them. The `alert-watch` worker's tick; tests call `tick()` directly.
 */
export class AlertWatch {
  /** Last seen health per `chainId/endpoint`: an alert on the change to down, not on every probe. */
  private readonly seen = new Map<string, boolean>();

  constructor(
    private readonly deps: { pool: pg.Pool; health: HealthSource; settings: AlertWatchSettings; log: Logger },
  ) {}

  async tick(): Promise<void> {
    const { pool, settings } = this.deps;
    const found: AlertInput[] = [];
    for (const burst of await findFailureBursts(pool, settings.failureWindowSeconds, settings.failureThreshold)) {
      found.push({
        kind: 'transactions_failing',
        severity: ALERT_KINDS.transactions_failing,
        subject: `${burst.scope}:${burst.key}`,
        summary: `${burst.failures} failed transactions in ${settings.failureWindowSeconds / 60} minutes for ${burst.scope} ${burst.key}`,
        detail: { scope: burst.scope, key: burst.key, failures: burst.failures, intentIds: burst.intentIds },
      });
    }
    for (const spike of await findGasSpikes(pool, settings.failureWindowSeconds, settings.gasSpikeFactor, 5)) {
      found.push({
        kind: 'gas_spike',
        severity: ALERT_KINDS.gas_spike,
        subject: `chain:${spike.chainId}`,
        summary: `Fee per gas on chain ${spike.chainId} is ${spike.maxFeePerGas} wei, above ${settings.gasSpikeFactor}× the trailing median (${spike.medianFeePerGas} wei)`,
        detail: {
          chainId: spike.chainId,
          intentId: spike.intentId,
          maxFeePerGas: spike.maxFeePerGas.toString(),
          medianFeePerGas: spike.medianFeePerGas.toString(),
        },
      });
    }
    for (const spender of await findRapidSpenders(pool, settings.hourlySpendUsdMicros)) {
      found.push({
        kind: 'rapid_spending',
        severity: ALERT_KINDS.rapid_spending,
        subject: `agent:${spender.agentId}`,
        summary: `Agent ${spender.agentId} spent ${formatUsd(spender.spendUsdMicros)} USD in the last hour (threshold ${formatUsd(settings.hourlySpendUsdMicros)})`,
        detail: {
          agentId: spender.agentId,
          spendUsd: formatUsd(spender.spendUsdMicros),
          thresholdUsd: formatUsd(settings.hourlySpendUsdMicros),
        },
      });
    }
    for (const payment of await findFirstPayments(pool)) {
      found.push({
        kind: 'new_recipient',
        severity: ALERT_KINDS.new_recipient,
        subject: `recipient:${payment.chainId}:${payment.recipient}`,
        summary: `First payment ever to ${payment.recipient} on chain ${payment.chainId}`,
        detail: { ...payment },
      });
    }
    for (const approval of await findExpiringApprovals(pool, settings.approvalExpiringSeconds)) {
      found.push({
        kind: 'approval_expiring',
        severity: ALERT_KINDS.approval_expiring,
        subject: `approval:${approval.approvalId}`,
        summary: `Approval for intent ${approval.intentId} expires at ${approval.expiresAt.toISOString()} undecided`,
        detail: {
          approvalId: approval.approvalId,
          intentId: approval.intentId,
          expiresAt: approval.expiresAt.toISOString(),
        },
      });
    }
    found.push(...this.rpcChanges());
    for (const alert of found) await this.raise(alert);
  }

  private async raise(alert: AlertInput): Promise<void> {
    const { pool, settings, log } = this.deps;
    if (await hasRecentAlert(pool, alert.kind, alert.subject, settings.dedupSeconds)) return;
    await raiseAlert(pool, alert);
    log.info({ kind: alert.kind, subject: alert.subject }, 'alert condition found');
  }

  /** Endpoints that went down since the last look, and chains whose primary endpoint is down (failed over). */
  private rpcChanges(): AlertInput[] {
    const out: AlertInput[] = [];
    for (const chain of this.deps.health()) {
      for (const endpoint of [...chain.rpc, ...chain.relay]) {
        if (endpoint.checkedAt === null && endpoint.healthy) continue;
        const key = `${chain.chainId}/${endpoint.endpoint}`;
        const was = this.seen.get(key) ?? true;
        this.seen.set(key, endpoint.healthy);
        if (was && !endpoint.healthy) {
          out.push({
            kind: 'rpc_endpoint_down',
            severity: ALERT_KINDS.rpc_endpoint_down,
            subject: `chain:${chain.chainId}:${endpoint.endpoint}`,
            summary: `RPC endpoint ${endpoint.endpoint} of chain ${chain.chainId} is down: ${endpoint.lastError ?? 'no answer'}`,
            detail: { chainId: chain.chainId, endpoint: endpoint.endpoint, reason: endpoint.lastError },
          });
        }
      }
      const primary = chain.rpc[0];
      const serving = chain.rpc.find((e) => e.healthy);
      if (primary && !primary.healthy && serving) {
        out.push({
          kind: 'rpc_failover',
          severity: ALERT_KINDS.rpc_failover,
          subject: `chain:${chain.chainId}`,
          summary: `Chain ${chain.chainId} failed over from ${primary.endpoint} to ${serving.endpoint}`,
          detail: { chainId: chain.chainId, from: primary.endpoint, to: serving.endpoint },
        });
      }
    }
    return out;
  }
}

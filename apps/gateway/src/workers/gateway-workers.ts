import type { Logger } from '../domain/logger.ts';
import type { AlertRouter } from '../alerts/alert-router.ts';
import type { AlertWatch } from '../alerts/alert-watch.ts';
import type { IncidentWatch } from '../incidents/incident-watch.ts';
import type { ApprovalService } from '../approvals/approval-service.ts';
import type { ChainRegistry } from '../chain/chain-registry.ts';
import type { ReceiptTracker } from '../intent-path/12-track.ts';
import type { NotificationDispatcher } from '../notifications/dispatcher.ts';
import type { PolicyStore } from '../policy/policy-store.ts';
import { ALERTS_CHANNEL } from '../repositories/alerts-repository.ts';
import { NOTIFY_CHANNEL } from '../repositories/notifications-repository.ts';
import { POLICY_CHANNEL } from '../repositories/policies-repository.ts';
import { HALTS_CHANNEL } from '../repositories/halts-repository.ts';
import type { DeadlineSweeper } from '../swaps/deadline-sweeper.ts';
import type { X402Settlement } from '../intent-path/x402-settlement.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import type { WorkerDefinition } from './worker.ts';
import { WorkerSet } from './worker-set.ts';

/**
 * The background jobs of a gateway process, one definition each: its name, interval, first tick and wake-up. The
 * job's logic lives in its service; these say only when it runs. A new periodic job is one more function here and
 * one line in `gatewayWorkers`.
 */

/**
 * A worker woken by NOTIFY on `listen.channel` as well as by its timer (once more each time LISTEN connects, catching
 * up on what was missed). `listen.url` null: the timer alone (PGlite has no cross-connection NOTIFY).
 */
function listeningWorker(
  definition: Omit<WorkerDefinition, 'listen'>,
  listen: { url: string | null; channel: string; applicationName: string },
): WorkerDefinition {
  return { ...definition, listen: listen.url ? { ...listen, url: listen.url } : null };
}

/** Settle in-flight intents from new blocks; every 20th tick also sweeps (stale receipts, abandoned approvals, spend, the nonce reconciler). */
export function receiptTracker(tracker: ReceiptTracker, intervalMs: number): WorkerDefinition {
  return { name: 'receipt-tracker', intervalMs, tick: () => tracker.poll() };
}

/** Escalate and expire pending approvals, resume approved intents whose process died (docs/approvals.md). */
export function approvalsSweep(approvals: ApprovalService, intervalMs = 1_000): WorkerDefinition {
  return { name: 'approvals-sweep', intervalMs, tick: async () => void (await approvals.sweep()) };
}

/** Expire intents still waiting for an approval past their deadline (docs/swaps.md). */
export function deadlineSweeper(deadlines: DeadlineSweeper, intervalMs: number): WorkerDefinition {
  return { name: 'deadline-sweeper', intervalMs, tick: async () => void (await deadlines.sweep()) };
}

/**
 * Deliver the notification outbox (docs/notifications.md): a pass at start, then on every NOTIFY (enqueueing
 * notifies at COMMIT) and every `intervalMs`. `listenUrl` null: the timer alone (PGlite has no cross-connection NOTIFY).
 */
export function notificationDispatcher(
  dispatcher: NotificationDispatcher,
  options: { intervalMs: number; listenUrl: string | null },
): WorkerDefinition {
  return listeningWorker(
    { name: 'notification-dispatcher', intervalMs: options.intervalMs, firstTickMs: 0, tick: () => dispatcher.tick() },
    { url: options.listenUrl, channel: NOTIFY_CHANNEL, applicationName: 'clawd402-notify-listener' },
  );
}

/**
 * Follow policy activations made by any process (docs/policy-lifecycle.md): on every NOTIFY of the policy channel,
 * once each time LISTEN connects (catching up on what was missed), and every `intervalMs` as a fallback.
 */
export function policyFollower(
  store: PolicyStore,
  options: { intervalMs?: number; listenUrl: string | null },
): WorkerDefinition {
  return listeningWorker(
    { name: 'policy-follower', intervalMs: options.intervalMs ?? 1_000, tick: () => store.refresh() },
    { url: options.listenUrl, channel: POLICY_CHANNEL, applicationName: 'clawd402-policy-listener' },
  );
}

/**
 * Follow the kill switch and pauses (docs/killswitch.md): on every NOTIFY of the halts channel, once each time LISTEN
 * connects, and every `intervalMs` (default 500 ms) as a fallback, so every process sees an engagement within a second
 * even with LISTEN down. While engaged, each refresh makes sure this process's signer is latched.
 */
export function haltsFollower(
  halts: { refresh(): Promise<void> },
  options: { intervalMs?: number; listenUrl: string | null },
): WorkerDefinition {
  return listeningWorker(
    { name: 'halts-follower', intervalMs: options.intervalMs ?? 500, firstTickMs: 0, tick: () => halts.refresh() },
    { url: options.listenUrl, channel: HALTS_CHANNEL, applicationName: 'clawd402-halts-listener' },
  );
}

/** Probe every RPC endpoint and relay, keeping the healthy ones first (docs/submission.md); a probe at start. */
export function rpcHealth(chains: ChainRegistry, intervalMs: number): WorkerDefinition {
  return { name: 'rpc-health', intervalMs, firstTickMs: 0, tick: () => chains.checkHealth() };
}

/**
 * Route raised alerts to their channels and send the medium digest (docs/incidents.md): a pass at start, then on
 * every NOTIFY (raiseAlert notifies at COMMIT) and every `intervalMs`.
 */
export function alertRouter(
  router: AlertRouter,
  options: { intervalMs: number; listenUrl: string | null },
): WorkerDefinition {
  return listeningWorker(
    { name: 'alert-router', intervalMs: options.intervalMs, firstTickMs: 0, tick: () => router.tick() },
    { url: options.listenUrl, channel: ALERTS_CHANNEL, applicationName: 'clawd402-alert-listener' },
  );
}

/** Look for alert conditions no single request sees: failure bursts, gas spikes, rapid spending, … (docs/incidents.md). */
export function alertWatch(watch: AlertWatch, intervalMs: number): WorkerDefinition {
  return { name: 'alert-watch', intervalMs, tick: () => watch.tick() };
}

/**
 * Run the incident detection rules, open incidents and take their automatic responses (docs/incidents.md). The
 * incidents table allows one unresolved incident per rule and subject, so replicas running it at once agree.
 */
export function incidentWatch(watch: IncidentWatch, intervalMs: number): WorkerDefinition {
  return { name: 'incident-watch', intervalMs, tick: async () => void (await watch.tick()) };
}

/**
 * Claim and run due scheduled jobs (docs/jobs.md): cluster-wide periodic work (retention, audit verification,
 * backups) that must run once per occurrence across replicas, under a lease in Postgres. Runs one job per tick and
 * ticks again at once while jobs are due.
 */
export function jobRunner(runner: JobRunner, intervalMs: number): WorkerDefinition {
  return { name: 'job-runner', intervalMs, firstTickMs: 0, tick: () => runner.tick() };
}

/** Commit x402 payments seen on chain, release those whose authorisation expired unused (docs/x402.md). */
export function x402Settlement(settlement: X402Settlement, intervalMs: number): WorkerDefinition {
  return { name: 'x402-settlement', intervalMs, tick: async () => void (await settlement.sweep()) };
}

export interface GatewayWorkerServices {
  log: Logger;
  chains: ChainRegistry;
  policyStore: PolicyStore;
  tracker: ReceiptTracker;
  approvals: ApprovalService;
  deadlines: DeadlineSweeper;
  x402: X402Settlement;
  notifications: NotificationDispatcher;
  /** The kill switch and pauses (services/killswitch-service.ts). */
  halts: { refresh(): Promise<void> };
  alertRouter: AlertRouter;
  alertWatch: AlertWatch;
  incidentWatch: IncidentWatch;
  /** Scheduled jobs (null: this replica runs none, JOB_RUNNER=off). */
  jobs?: { runner: JobRunner; intervalMs: number } | null;
}

export interface GatewayWorkerSettings {
  trackerIntervalMs: number;
  healthIntervalMs: number;
  notifyIntervalMs: number;
  /** Postgres URL for LISTEN connections; null in the embedded default (PGlite: the timers suffice). */
  listenUrl: string | null;
  /** Run the chain and approval clocks: tracker, approvals sweep, deadline sweeper (BuildOptions.tracker). */
  clocks: boolean;
  /** Run the notification dispatcher and the alert router (BuildOptions.notifications). */
  notifications: boolean;
  alertWatchIntervalMs: number;
  incidentWatchIntervalMs: number;
}

/** Every background job of one gateway process, not yet started. */
export function gatewayWorkers(services: GatewayWorkerServices, settings: GatewayWorkerSettings): WorkerSet {
  const set = new WorkerSet(services.log);
  set.add(rpcHealth(services.chains, settings.healthIntervalMs));
  set.add(policyFollower(services.policyStore, { listenUrl: settings.listenUrl }));
  set.add(haltsFollower(services.halts, { listenUrl: settings.listenUrl }));
  if (settings.clocks) {
    set.add(receiptTracker(services.tracker, settings.trackerIntervalMs));
    // The approval clock (escalation, expiry, resuming approved intents) runs with the tracker; tests drive sweep().
    set.add(approvalsSweep(services.approvals));
    set.add(deadlineSweeper(services.deadlines, settings.trackerIntervalMs));
    set.add(x402Settlement(services.x402, settings.trackerIntervalMs));
    set.add(alertWatch(services.alertWatch, settings.alertWatchIntervalMs));
    set.add(incidentWatch(services.incidentWatch, settings.incidentWatchIntervalMs));
  }
  if (settings.notifications) {
    set.add(
      notificationDispatcher(services.notifications, {
        intervalMs: settings.notifyIntervalMs,
        listenUrl: settings.listenUrl,
      }),
    );
    set.add(
      alertRouter(services.alertRouter, { intervalMs: settings.notifyIntervalMs, listenUrl: settings.listenUrl }),
    );
  }
  if (services.jobs) set.add(jobRunner(services.jobs.runner, services.jobs.intervalMs));
  return set;
}

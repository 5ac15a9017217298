import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IntentPathObserver } from './intent-path/intent-path.ts';
import type { MetricsSnapshot } from './repositories/metrics-repository.ts';

/**
 * The gateway's Prometheus metrics (prom-client), one registry per app instance so that several apps in one process
 * (tests) never share counts. Served as text at `GET /metrics` (routes/metrics.ts, permission `metrics:read`).
 * Labels never carry addresses, key ids or anything else with unbounded cardinality.
 */
export interface Metrics {
  registry: Registry;
  /** Rate-limit store operations that failed (Redis down or slow); each one let a request through (fail open). */
  rateLimitStoreErrors: Counter;
  /** Requests refused with 429, by limiter scope (`ip`, `principal`, `route`) and error code. */
  rateLimitRefusals: Counter<'scope' | 'code'>;
  /** Progressive blocks imposed, by tier (`short`: 5 minutes, `long`: 1 hour). */
  rateLimitBlocks: Counter<'tier'>;
  /** Long-polls (`GET /v1/intents/:id?wait=`) waiting now; a shutdown answers them all at once. */
  longPollsWaiting: Gauge;
  /** Intents the path answered, by type, status and decision action (docs/metrics.md). */
  intents: Counter<'type' | 'status' | 'decision'>;
  /** Request entering the path → decision stored. */
  decisionSeconds: Histogram<'type' | 'decision'>;
  /** Request entering the path → the path's answer (signed and submitted, pending approval, or refused). */
  intentSeconds: Histogram<'type' | 'status'>;
  /** Each stage of the path a request finished (intent-path.ts `IntentStage`), waiting included. */
  stageSeconds: Histogram<'stage'>;
  /** Signer socket round trips by method and outcome (`ok`, a refusal code, `unavailable`). */
  signerSeconds: Histogram<'method' | 'outcome'>;
  signerErrors: Counter<'method' | 'outcome'>;
  /** RPC requests per endpoint (`rpc-1`, `relay-1`: by position, never a URL). */
  rpcSeconds: Histogram<'chain' | 'endpoint'>;
  rpcErrors: Counter<'chain' | 'endpoint'>;
  /** Scheduled job runs by job and outcome (docs/jobs.md). */
  jobRuns: Counter<'job' | 'outcome'>;
  jobSeconds: Histogram<'job'>;
  /** Hooks for the services that report into these metrics. */
  observers: {
    intents: IntentPathObserver;
    signer: (method: string, seconds: number, outcome: string) => void;
    rpc: (chainId: number, endpoint: string, seconds: number, ok: boolean) => void;
    jobs: (job: string, outcome: string, seconds: number) => void;
  };
}

const BREAKER_LEVELS = ['normal', 'warning', 'soft', 'hard', 'emergency'];
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const usdOf = (micros: bigint): number => Number(micros) / 1_000_000;

/**
 * Gauges read from Postgres when scraped (spend and remaining budget by scope, breaker level, approvals pending,
 * outbox depth and dead letters, last successful job run): one snapshot per scrape, shared by every gauge and
 * reused for a second, so concurrent scrapes cost one round of queries.
 */
function scrapeGauges(registry: Registry, read: () => Promise<MetricsSnapshot>): void {
  let cached: { at: number; snapshot: Promise<MetricsSnapshot> } | null = null;
  const snapshot = (): Promise<MetricsSnapshot> => {
    if (!cached || performance.now() - cached.at > 1_000) {
      cached = { at: performance.now(), snapshot: read() };
      cached.snapshot.catch(() => (cached = null));
    }
    return cached.snapshot;
  };
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: Gauge<L>, s: MetricsSnapshot) => void,
  ): void => {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        fill(this, await snapshot());
      },
    });
  };
  gauge(
    'clawd402_spend_usd',
    'USD spent in the rolling window by scope (global and agents).',
    ['scope', 'window'],
    (g, s) => {
      for (const sc of s.scopes) {
        g.set({ scope: sc.scope, window: 'day' }, usdOf(sc.spentDayMicros));
        g.set({ scope: sc.scope, window: 'hour' }, usdOf(sc.spentHourMicros));
      }
    },
  );
  gauge(
    'clawd402_budget_remaining_usd',
    'USD left under the spend limit of the rolling window, for scopes with a limit (0 when at or over it).',
    ['scope', 'window'],
    (g, s) => {
      for (const sc of s.scopes) {
        if (sc.limitDayMicros !== null)
          g.set({ scope: sc.scope, window: 'day' }, Math.max(0, usdOf(sc.limitDayMicros - sc.spentDayMicros)));
        if (sc.limitHourMicros !== null)
          g.set({ scope: sc.scope, window: 'hour' }, Math.max(0, usdOf(sc.limitHourMicros - sc.spentHourMicros)));
      }
    },
  );
  gauge(
    'clawd402_breaker_level',
    'Circuit-breaker level by scope: 0 normal, 1 warning, 2 soft, 3 hard, 4 emergency.',
    ['scope'],
    (g, s) => {
      for (const sc of s.scopes) g.set({ scope: sc.scope }, BREAKER_LEVELS.indexOf(sc.breakerLevel));
    },
  );
  gauge('clawd402_approvals_pending', 'Intents waiting for a human approval.', [], (g, s) => g.set(s.approvalsPending));
  gauge(
    'clawd402_outbox_messages',
    'Notification outbox rows by status: pending (depth, still to deliver) and dead (dead letters).',
    ['status'],
    (g, s) => {
      g.set({ status: 'pending' }, s.outbox.pending);
      g.set({ status: 'dead' }, s.outbox.dead);
    },
  );
  gauge(
    'clawd402_job_last_success_timestamp_seconds',
    'When each scheduled job last completed (succeeded, or skipped as not configured), epoch seconds.',
    ['job'],
    (g, s) => {
      for (const j of s.jobLastSuccess) g.set({ job: j.job }, j.at);
    },
  );
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** `snapshot` reads the scrape-time gauges (left out when absent, e.g. in unit tests). */
export function createMetrics(options: { snapshot?: () => Promise<MetricsSnapshot> } = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'clawd402_' });
  if (options.snapshot) scrapeGauges(registry, options.snapshot);
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const histogram = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets = LATENCY_BUCKETS,
  ): Histogram<L> => new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
  const intents = counter(
    'clawd402_intents_total',
    'Intents the intent path answered, by type, status and decision action (refused before storing: status "refused").',
    ['type', 'status', 'decision'],
  );
  const decisionSeconds = histogram(
    'clawd402_intent_decision_seconds',
    'From the request entering the intent path to its decision being stored.',
    ['type', 'decision'],
  );
  const intentSeconds = histogram(
    'clawd402_intent_duration_seconds',
    "From the request entering the intent path to the path's answer (submitted, waiting for approval, rejected).",
    ['type', 'status'],
  );
  const stageSeconds = histogram(
    'clawd402_intent_stage_seconds',
    'Where a request spends its time in the intent path, stage by stage, waiting included (admit, prepare, simulate, decide, sign, submit).',
    ['stage'],
  );
  const signerSeconds = histogram(
    'clawd402_signer_request_seconds',
    'Signer socket round trips by method and outcome (ok, a refusal code, unavailable).',
    ['method', 'outcome'],
  );
  const signerErrors = counter(
    'clawd402_signer_errors_total',
    'Signer requests that were refused or failed, by method and outcome.',
    ['method', 'outcome'],
  );
  const rpcSeconds = histogram(
    'clawd402_rpc_request_seconds',
    'RPC requests by chain and endpoint (rpc-n, relay-n: the n-th configured URL, never the URL itself).',
    ['chain', 'endpoint'],
  );
  const rpcErrors = counter(
    'clawd402_rpc_errors_total',
    'RPC requests that failed (network, timeout, HTTP status or node error), by chain and endpoint.',
    ['chain', 'endpoint'],
  );
  const jobRuns = counter(
    'clawd402_job_runs_total',
    'Scheduled job runs on this replica by job and outcome (succeeded, skipped, failed, lost).',
    ['job', 'outcome'],
  );
  const jobSeconds = histogram(
    'clawd402_job_run_seconds',
    'How long scheduled job runs took on this replica.',
    ['job'],
    [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
  );
  const action = (intent: { decision: { action: string } | null } | null): string => intent?.decision?.action ?? 'none';
  return {
    intents,
    decisionSeconds,
    intentSeconds,
    stageSeconds,
    signerSeconds,
    signerErrors,
    rpcSeconds,
    rpcErrors,
    jobRuns,
    jobSeconds,
    observers: {
      intents: {
        decided: (intent, seconds) => decisionSeconds.observe({ type: intent.type, decision: action(intent) }, seconds),
        finished: (type, intent, seconds) => {
          const status = intent?.status ?? 'refused';
          intents.inc({ type, status, decision: action(intent) });
          intentSeconds.observe({ type, status }, seconds);
        },
        stage: (stage, seconds) => stageSeconds.observe({ stage }, seconds),
      },
      signer: (method, seconds, outcome) => {
        signerSeconds.observe({ method, outcome }, seconds);
        if (outcome !== 'ok') signerErrors.inc({ method, outcome });
      },
      rpc: (chainId, endpoint, seconds, ok) => {
        const labels = { chain: String(chainId), endpoint };
        rpcSeconds.observe(labels, seconds);
        if (!ok) rpcErrors.inc(labels);
      },
      jobs: (job, outcome, seconds) => {
        jobRuns.inc({ job, outcome });
        jobSeconds.observe({ job }, seconds);
      },
    },
    registry,
    rateLimitStoreErrors: new Counter({
      name: 'clawd402_rate_limit_store_errors_total',
      help: 'Rate-limit store operations that failed; the request was let through (rate limits fail open).',
      registers: [registry],
    }),
    rateLimitRefusals: new Counter({
      name: 'clawd402_rate_limit_refusals_total',
      help: 'Requests refused with 429 by a rate limiter or a progressive block.',
      labelNames: ['scope', 'code'] as const,
      registers: [registry],
    }),
    rateLimitBlocks: new Counter({
      name: 'clawd402_rate_limit_blocks_total',
      help: 'Progressive blocks imposed on a client after repeated rate-limit hits.',
      labelNames: ['tier'] as const,
      registers: [registry],
    }),
    longPollsWaiting: new Gauge({
      name: 'clawd402_long_polls_waiting',
      help: 'Long-polls (GET /v1/intents/:id?wait=) waiting for a status change now.',
      registers: [registry],
    }),
  };
}

/** Decorates `app.metrics` (the instance app.ts built, or a fresh one). Register before any plugin that counts something. */
export default fp(
  async (app, options: { metrics?: Metrics }) => {
    app.decorate('metrics', options.metrics ?? createMetrics());
  },
  { name: 'metrics' },
);

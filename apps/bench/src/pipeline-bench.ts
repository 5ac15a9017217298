/**
 * The intent pipeline over HTTP (POST /v1/intents: auth → rate limits → validate → value → decision lane [lock spend
 * scopes, policy, breakers, limits, reserve] → nonce → ticket → sign → audit → submit) against real Postgres, Redis,
 * anvil and the signer, with money safety off and on, for one agent (one hot spend row) and for 64 agents:
 *
 *   off  no per-scope spend limits configured; RATE_LIMIT_* at 1,000,000 (never binding)
 *   on   agent scopes: 24 h and 1 h limits, global scope: 24 h limit, all far above what a run spends (nothing is
 *        refused); RATE_LIMIT_* at finite values that do not bind here (see RATE_LIMITS_ON)
 *
 * Rate limits cannot be switched off: every request makes the same Redis round trips in both modes (a separate key
 * prefix per scenario, so each starts with empty windows); only the limits differ. Each scenario has its own gateway
 * process, warmed up; off and on then run in interleaved slices (BENCH_ROUNDS, default 2) adding up to BENCH_SECONDS. With 64 agents each request takes the next agent's token,
 * round robin. All agents are bound to the one signer address, and signing lanes serialise per address: the signer
 * lane, not the limits, bounds the 64-agent rows.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { RATE_LIMITS_OFF, RECIPIENTS, callJson, type Stack } from '@clawd402/gateway/testing';
import { GLOBAL_SHARDS } from '@clawd402/gateway/spend-repository';

export interface PipelineRow {
  name: string;
  perSecond: number;
  p50: number | null;
  p99: number | null;
  errors: number;
  /** Throughput of this "on" row divided by its "off" twin's. */
  vsOff?: number;
  note?: string;
}

const AGENTS = 64;
/**
 * BENCH_RUNTIME=compiled: the hot and spread gateways run compiled JavaScript (`pnpm build` first), as the image does,
 * instead of the TypeScript sources through tsx (the default, and the figures before it existed).
 */
export const GATEWAY_RUNTIME: 'tsx' | 'compiled' = process.env.BENCH_RUNTIME === 'compiled' ? 'compiled' : 'tsx';
/**
 * BENCH_GATEWAY_NODE: the node executable the hot and spread gateways run on, to measure a Node release before the
 * image moves to it; everything else (the bench, the signer, the floors) stays on the bench's own node.
 */
export const GATEWAY_NODE = process.env.BENCH_GATEWAY_NODE || process.execPath;
/**
 * `node --version` of {@link GATEWAY_NODE}, read when the bench starts: a wrong BENCH_GATEWAY_NODE fails here (ENOENT)
 * rather than after the run, when the results are written.
 */
export const GATEWAY_NODE_VERSION = execFileSync(GATEWAY_NODE, ['--version'], { encoding: 'utf8' }).trim();
const COMPILED_GATEWAY = new URL('../../gateway/dist/server.js', import.meta.url);

/**
 * On: finite limits a busy deployment could run with, set just clear of this bench. One agent here sends a few
 * hundred intents a second, so a per-agent limit of 1,000 a second (bucket of 1,000) does not bind; every request
 * comes from 127.0.0.1, so the per-address limit covers all 64 agents together.
 */
export const RATE_LIMITS_ON: Record<string, string> = {
  RATE_LIMIT_IP_PER_MIN: '120000',
  RATE_LIMIT_PRINCIPAL_PER_MIN: '60000',
  RATE_LIMIT_PRINCIPAL_BURST: '1000',
  RATE_LIMIT_INTENTS_PER_MIN: '60000',
  RATE_LIMIT_AUTH_PER_MIN: '600',
  RATE_LIMIT_ADMIN_PER_MIN: '600',
};

/** Spend limits for "on": far above a run's spend (about 0.09 USD per intent at the dev price of 2,000 USD/ETH). */
const SPEND_LIMITS_ON = { agentDailyUsd: '1000000', agentHourlyUsd: '100000', globalDailyUsd: '10000000' };

/** The intent every pipeline run posts: a tiny native transfer to the first recipient. */
const TRANSFER_BODY = JSON.stringify({
  type: 'transfer',
  chainId: 31337,
  to: RECIPIENTS[0],
  asset: 'native',
  amount: '0.000001',
});

/** A round-robin over `tokens`: each call returns the next one. */
function roundRobin(tokens: readonly string[]): () => string {
  let next = 0;
  return () => tokens[next++ % tokens.length]!;
}

/** Autocannon options that POST the transfer intent to `/v1/intents`, every request with the token `nextToken` gives. */
function intentLoad(
  baseUrl: string,
  connections: number,
  duration: number,
  nextToken: () => string,
): autocannon.Options {
  return {
    url: `${baseUrl}/v1/intents`,
    connections,
    duration,
    requests: [
      {
        method: 'POST',
        body: TRANSFER_BODY,
        // Every request takes the next agent's token, so many agents spread evenly over the connections.
        setupRequest: (req) => ({
          ...req,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${nextToken()}` },
        }),
      },
    ],
  };
}

/** The `p` quantile of sorted latencies (the sample at floor(n × p)), or null when there are none. */
function quantile(sorted: readonly number[], p: number): number | null {
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** One autocannon run; every response's latency (ms) is added to `latencies`. */
function cannon(options: autocannon.Options, latencies?: number[]): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error: unknown, result) =>
      error
        ? reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }))
        : resolve(result),
    );
    if (latencies) instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux); with `thread`, one of its threads only
 * (a process's main thread has the process's id).
 */
export function cpuSeconds(pid: number, thread?: number): number | null {
  try {
    const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
    const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return null;
  }
}

/**
 * A process's memory from `/proc/<pid>/status`, in MiB: resident now (`rss`), its peak (`peak`), and the resident
 * set split into anonymous memory (heap, stacks, malloc arenas: what the process itself grew) and file-backed pages
 * (the node binary and shared libraries, shared with every other process mapping them).
 */
export function memoryMiB(pid: number): { rss: number; peak: number; anon: number; file: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mib = (key: string): number =>
      Math.round(Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024);
    return { rss: mib('VmRSS'), peak: mib('VmHWM'), anon: mib('RssAnon'), file: mib('RssFile') };
  } catch {
    return null;
  }
}

export function rss(pid: number): string {
  const memory = memoryMiB(pid);
  return memory ? `RSS ${memory.rss} MiB, peak ${memory.peak} MiB` : 'RSS n/a';
}

async function put(stack: Stack, ownerToken: string, body: Record<string, unknown>): Promise<void> {
  const res = await callJson(stack.baseUrl, ownerToken, 'PUT', '/admin/costs/limits', body);
  if (res.status !== 200)
    throw new Error(`PUT /admin/costs/limits ${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** Limits on the agents' scopes and the global scope (owner only, PUT /admin/costs/limits), or none. */
async function setSpendLimits(
  stack: Stack,
  ownerToken: string,
  agentIds: readonly string[],
  on: boolean,
): Promise<void> {
  for (const agentId of agentIds) {
    await put(stack, ownerToken, {
      scope: `agent:${agentId}`,
      dailyLimitUsd: on ? SPEND_LIMITS_ON.agentDailyUsd : null,
      hourlyLimitUsd: on ? SPEND_LIMITS_ON.agentHourlyUsd : null,
    });
  }
  await put(stack, ownerToken, { scope: 'global', dailyLimitUsd: on ? SPEND_LIMITS_ON.globalDailyUsd : null });
}

/**
 * `hours` of spend history before the run: every minute of the last `hours` gets a bucket in each agent's scope, each
 * of its keys' scopes and every global shard, as steady traffic leaves them (0.09 USD and one intent an agent a
 * minute, far below every limit). A decision reads its scopes' last 24 hours from hour rows and the first hour's
 * minutes, so a run that starts from an empty table reads a few rows where a gateway a day into its traffic reads
 * hundreds (docs/benchmarks.md).
 */
async function seedSpendHistory(stack: Stack, agentIds: readonly string[], hours: number): Promise<void> {
  if (hours <= 0) return;
  const { rows } = await stack.pool.query<{ id: string }>('SELECT id FROM api_keys WHERE agent_id = ANY($1::uuid[])', [
    agentIds,
  ]);
  const scopes = [...agentIds.map((id) => `agent:${id}`), ...rows.map((r) => `key:${r.id}`)];
  const perShard = Math.ceil(agentIds.length / GLOBAL_SHARDS);
  // Minute rows and their hour rows (each the sum of its minutes, as the gateway's own writes keep them).
  await stack.pool.query(
    `WITH g AS (
       SELECT s.scope, date_trunc('minute', now()) - make_interval(mins => m) AS minute, s.shard, s.usd, s.n
         FROM (SELECT unnest($1::text[]) AS scope, 0::smallint AS shard, 90000::bigint AS usd, 1 AS n
               UNION ALL
               SELECT 'global', g::smallint, 90000::bigint * $3, $3::int FROM generate_series(0, $4 - 1) g) s,
              generate_series(1, $2::int * 60) m
     ), minutes AS (
       INSERT INTO spend_minutes (scope, minute, shard, usd_micros, count) SELECT scope, minute, shard, usd, n FROM g
       ON CONFLICT (scope, minute, shard) DO UPDATE
         SET usd_micros = spend_minutes.usd_micros + EXCLUDED.usd_micros, count = spend_minutes.count + EXCLUDED.count
       RETURNING 1
     )
     INSERT INTO spend_hours (scope, hour, shard, usd_micros, count)
     SELECT scope, date_trunc('hour', minute, 'UTC'), shard, sum(usd), sum(n) FROM g, (SELECT count(*) FROM minutes) w
      GROUP BY 1, 2, 3
     ON CONFLICT (scope, hour, shard) DO UPDATE
       SET usd_micros = spend_hours.usd_micros + EXCLUDED.usd_micros, count = spend_hours.count + EXCLUDED.count`,
    [scopes, hours, perShard, GLOBAL_SHARDS],
  );
  await stack.pool.query('ANALYZE spend_minutes, spend_hours');
}

interface Counts {
  signed: number;
  rejected: number;
  audit: number;
}

async function counts(stack: Stack): Promise<Counts> {
  const { rows } = await stack.pool.query<{ signed: string; rejected: string; audit: string }>(
    `SELECT (SELECT count(*) FROM intents WHERE tx_hash IS NOT NULL) AS signed,
            (SELECT count(*) FROM intents WHERE status = 'rejected') AS rejected,
            (SELECT count(*) FROM audit_log) AS audit`,
  );
  const r = rows[0]!;
  return { signed: Number(r.signed), rejected: Number(r.rejected), audit: Number(r.audit) };
}

/** Intents recorded since `since` and in how many decision transactions (intents of one share created_at). */
async function batches(stack: Stack, since: Date): Promise<{ intents: number; transactions: number }> {
  const { rows } = await stack.pool.query<{ n: string; batches: string }>(
    `SELECT count(*) AS n, count(DISTINCT created_at) AS batches FROM intents WHERE created_at >= $1`,
    [since],
  );
  return { intents: Number(rows[0]!.n), transactions: Number(rows[0]!.batches) };
}

interface Tally {
  latencies: number[];
  seconds: number;
  errors: number;
  limited: number;
  signed: number;
  rejected: number;
  audit: number;
  intents: number;
  transactions: number;
  cpu: number;
}

export interface PipelineOptions {
  seconds: number;
  connections: number;
  warmupSeconds: number;
  /** Interleaved slices per scenario pair (off, on, off, on…), so background load falls on both alike. */
  rounds: number;
}

/**
 * One agent group (1 agent or 64), off and on: a gateway process for each (their rate limits differ), warmed up,
 * then `rounds` interleaved slices of `seconds / rounds`, with the spend limits switched before each slice.
 */
async function pair(
  stack: Stack,
  owner: string,
  group: { label: string; tag: string; tokens: readonly string[]; agentIds: readonly string[] },
  options: PipelineOptions,
): Promise<PipelineRow[]> {
  const nextToken = roundRobin(group.tokens);
  const cannonOptions = (baseUrl: string, duration: number): autocannon.Options =>
    intentLoad(baseUrl, options.connections, duration, nextToken);
  const modes = [
    { on: false, name: `pipeline: ${group.label}, limits off`, rateLimits: RATE_LIMITS_OFF },
    { on: true, name: `pipeline: ${group.label}, spend + rate limits on`, rateLimits: RATE_LIMITS_ON },
  ];
  const gateways = await Promise.all(
    modes.map((m) =>
      stack.spawnGateway({
        ...m.rateLimits,
        RATE_LIMIT_REDIS_PREFIX: `bench-${process.pid}-${group.tag}-${m.on ? 'on' : 'off'}:`,
      }),
    ),
  );
  try {
    const tallies: Tally[] = modes.map(() => ({
      latencies: [],
      seconds: 0,
      errors: 0,
      limited: 0,
      signed: 0,
      rejected: 0,
      audit: 0,
      intents: 0,
      transactions: 0,
      cpu: 0,
    }));
    for (const [i, m] of modes.entries()) {
      await setSpendLimits(stack, owner, group.agentIds, m.on);
      if (options.warmupSeconds > 0) await cannon(cannonOptions(gateways[i]!.baseUrl, options.warmupSeconds)); // JIT, pools, prepared statements
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const [i, m] of modes.entries()) {
        const t = tallies[i]!;
        const gateway = gateways[i]!;
        await setSpendLimits(stack, owner, group.agentIds, m.on);
        const before = await counts(stack);
        const since = (await stack.pool.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
        const cpuBefore = cpuSeconds(gateway.pid)!;
        const r = await cannon(cannonOptions(gateway.baseUrl, options.seconds / options.rounds), t.latencies);
        t.cpu += cpuSeconds(gateway.pid)! - cpuBefore;
        t.seconds += r.duration;
        t.errors += r.non2xx + r.errors;
        t.limited += r.statusCodeStats?.['429']?.count ?? 0;
        const after = await counts(stack);
        t.signed += after.signed - before.signed;
        t.rejected += after.rejected - before.rejected;
        t.audit += after.audit - before.audit;
        const b = await batches(stack, since);
        t.intents += b.intents;
        t.transactions += b.transactions;
      }
    }
    const rows = modes.map((m, i): PipelineRow => {
      const t = tallies[i]!;
      t.latencies.sort((x, y) => x - y);
      return {
        name: m.name,
        perSecond: t.latencies.length / t.seconds,
        p50: quantile(t.latencies, 0.5),
        p99: quantile(t.latencies, 0.99),
        errors: t.errors,
        note: [
          `${t.signed} intents signed, ${t.rejected} rejected, ${t.limited} rate-limited (429)`,
          `${(t.audit / Math.max(1, t.signed)).toFixed(1)} audit rows per signed intent`,
          `${(t.intents / Math.max(1, t.transactions)).toFixed(1)} intents per decision transaction`,
          `gateway ${rss(gateways[i]!.pid)}, CPU ${((t.cpu / t.seconds) * 100).toFixed(0)}% of a core, ${((t.cpu * 1000) / Math.max(1, t.signed)).toFixed(2)} ms CPU per signed intent`,
        ].join('; '),
      };
    });
    rows[1]!.vsOff = rows[1]!.perSecond / rows[0]!.perSecond;
    return rows;
  } finally {
    await Promise.all(gateways.map((g) => g.stop()));
  }
}

/**
 * The four pipeline scenarios: 1 agent off and on, then 64 agents off and on. Spend limits are set through
 * PUT /admin/costs/limits as an owner, as an operator would.
 */
export async function pipelineScenarios(stack: Stack, options: PipelineOptions): Promise<PipelineRow[]> {
  const owner = await stack.loginAs('owner');
  const many: { agentId: string; apiKey: string }[] = [];
  for (let i = 0; i < AGENTS; i++) many.push(await stack.newAgent(`bench-agent-${i}`));
  const tokens: string[] = [];
  for (const agent of many) tokens.push(await stack.token(agent.apiKey));
  return [
    ...(await pair(
      stack,
      owner,
      { label: '1 agent', tag: '1', tokens: [await stack.token()], agentIds: [stack.agent.agentId] },
      options,
    )),
    ...(await pair(
      stack,
      owner,
      { label: `${AGENTS} agents`, tag: '64', tokens, agentIds: many.map((a) => a.agentId) },
      options,
    )),
  ];
}

/**
 * The pipeline with the issue's seed policy active beside the dev policy, on fresh agents (one per slice) and one
 * gateway process, alternating activation (POST /admin/policies/:version/activate) between slices. Both sets auto-approve
 * these intents (0.000001 ETH to anvil account 1), so the difference is what evaluating the set costs the pipeline.
 */
export async function policyScenarios(stack: Stack, options: PipelineOptions): Promise<PipelineRow[]> {
  const owner = await stack.loginAs('owner');
  // A fresh agent for every slice: the seed set's `daily_limit_usd: 500` counts an agent's whole day, and one agent
  // through every slice of a fast run passes it (its intents are then rejected, and counted as errors).
  let agents = 0;
  const freshToken = async (): Promise<string> =>
    stack.token((await stack.newAgent(`bench-policy-agent-${(agents += 1)}`)).apiKey);
  const sets = [
    {
      label: 'dev policy set (packages/policy/examples/dev-policy.yaml)',
      file: '../../../packages/policy/examples/dev-policy.yaml',
    },
    { label: 'seed policy set (the issue’s, unchanged)', file: '../../../packages/policy/examples/seed-policy.yaml' },
  ];
  const versions: number[] = [];
  for (const set of sets) {
    const res = await fetch(`${stack.baseUrl}/admin/policies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/yaml' },
      body: readFileSync(new URL(set.file, import.meta.url), 'utf8'),
    });
    if (res.status !== 201 && res.status !== 200)
      throw new Error(`policy upload failed: ${res.status} ${await res.text()}`);
    versions.push(((await res.json()) as { version: number }).version);
  }
  const gateway = await stack.spawnGateway({
    ...RATE_LIMITS_OFF,
    RATE_LIMIT_REDIS_PREFIX: `bench-${process.pid}-policy:`,
  });
  const activate = async (version: number): Promise<void> => {
    const res = await fetch(`${stack.baseUrl}/admin/policies/${version}/activate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}` },
    });
    if (res.status !== 200) throw new Error(`activation failed: ${res.status} ${await res.text()}`);
    for (let i = 0; i < 100; i++) {
      const state = await fetch(`${gateway.baseUrl}/admin/policies`, { headers: { authorization: `Bearer ${owner}` } });
      if ((((await state.json()) as { loaded?: { version: number } }).loaded?.version ?? -1) === version) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`gateway never loaded policy version ${version}`);
  };
  const run = async (duration: number, latencies?: number[]) => {
    const token = await freshToken();
    return cannon(
      {
        url: `${gateway.baseUrl}/v1/intents`,
        connections: options.connections,
        duration,
        requests: [
          {
            method: 'POST',
            body: TRANSFER_BODY,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          },
        ],
      },
      latencies,
    );
  };
  try {
    const tallies = sets.map(() => ({ latencies: [] as number[], seconds: 0, errors: 0, cpu: 0, signed: 0 }));
    for (const version of versions) {
      await activate(version);
      if (options.warmupSeconds > 0) await run(options.warmupSeconds);
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const [i, version] of versions.entries()) {
        await activate(version);
        const t = tallies[i]!;
        const before = await counts(stack);
        const cpuBefore = cpuSeconds(gateway.pid)!;
        const r = await run(options.seconds / options.rounds, t.latencies);
        t.cpu += cpuSeconds(gateway.pid)! - cpuBefore;
        t.seconds += r.duration;
        t.errors += r.non2xx + r.errors;
        t.signed += (await counts(stack)).signed - before.signed;
      }
    }
    const rows = sets.map((set, i): PipelineRow => {
      const t = tallies[i]!;
      t.latencies.sort((x, y) => x - y);
      return {
        name: `pipeline: 1 agent, ${set.label}`,
        perSecond: t.latencies.length / t.seconds,
        p50: quantile(t.latencies, 0.5),
        p99: quantile(t.latencies, 0.99),
        errors: t.errors,
        note: `${t.signed} intents signed; ${((t.cpu * 1000) / Math.max(1, t.signed)).toFixed(2)} ms gateway CPU per signed intent`,
      };
    });
    rows[1]!.vsOff = rows[1]!.perSecond / rows[0]!.perSecond;
    return rows;
  } finally {
    await gateway.stop();
  }
}

/** Per-scenario figures for `.bench/results.json` (bench.ts writes it). */
export interface FleetRow extends PipelineRow {
  scenario: 'hot' | 'spread';
  signed: number;
  gatewayCpuMsPerIntent: number | null;
  /**
   * The part of it spent on the gateway's main thread: the event loop, which runs every request's JavaScript and
   * bounds one process's throughput. The rest is V8's background threads (concurrent marking, parallel scavenges,
   * optimising compilation) and libuv's pool.
   */
  gatewayMainThreadCpuMsPerIntent: number | null;
  /** V8 full (mark-compact) collections in the gateway per 1,000 signed intents (its metrics, `kind="major"`). */
  gatewayMajorGcsPer1000: number | null;
  rssMiB: number | null;
  /** The gateway's peak RSS, and its RSS at the end split into anonymous and file-backed pages (memoryMiB). */
  rssPeakMiB: number | null;
  rssAnonMiB: number | null;
  rssFileMiB: number | null;
  /** CPU ms per signed intent of the other processes: the signer, Postgres (this database's backends), anvil. */
  signerCpuMsPerIntent: number | null;
  postgresCpuMsPerIntent: number | null;
  anvilCpuMsPerIntent: number | null;
  auditRowsPerIntent: number;
  /** Chain RPC requests the gateway made per signed intent (its metrics), and Postgres commits and rows written. */
  rpcCallsPerIntent: number | null;
  postgresCommitsPerIntent: number | null;
  postgresRowWritesPerIntent: number | null;
  /**
   * How much the database's files grew per signed intent during the run (`pg_database_size`): tables, indexes and
   * TOAST, dead row versions included (a short run ends before autovacuum reclaims most of them).
   */
  postgresBytesPerIntent: number | null;
  /** Mean milliseconds a request spent in each stage of the intent path (clawd402_intent_stage_seconds), waits
   * included: where its latency goes. */
  stageMs: Record<string, number>;
}

interface GatewayCounts {
  /** RPC requests made so far (clawd402_rpc_request_seconds_count, summed over chains and endpoints). */
  rpc: number;
  /** V8 full collections so far (clawd402_nodejs_gc_duration_seconds_count, kind="major"); null if not reported. */
  majorGcs: number | null;
  /** Per stage of the intent path, the seconds spent and the requests that finished it (clawd402_intent_stage_seconds). */
  stages: Map<string, { sum: number; count: number }>;
}

/** What the gateway's /metrics has counted so far. */
async function gatewayCounts(baseUrl: string, token: string): Promise<GatewayCounts> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const counts: GatewayCounts = { rpc: 0, majorGcs: null, stages: new Map() };
  for (const line of (await res.text()).split('\n')) {
    const value = Number(line.split(' ').pop());
    if (line.startsWith('clawd402_rpc_request_seconds_count')) counts.rpc += value;
    if (line.startsWith('clawd402_nodejs_gc_duration_seconds_count{kind="major"}'))
      counts.majorGcs = (counts.majorGcs ?? 0) + value;
    const stage = /^clawd402_intent_stage_seconds_(sum|count)\{stage="([a-z]+)"\}/.exec(line);
    if (stage) {
      const entry = counts.stages.get(stage[2]!) ?? { sum: 0, count: 0 };
      entry[stage[1] as 'sum' | 'count'] += value;
      counts.stages.set(stage[2]!, entry);
    }
  }
  return counts;
}

/** Mean milliseconds per stage between two readings, in the path's order. */
function stageMeans(before: GatewayCounts, after: GatewayCounts): Record<string, number> {
  const means: Record<string, number> = {};
  for (const [stage, { sum, count }] of after.stages) {
    const was = before.stages.get(stage) ?? { sum: 0, count: 0 };
    if (count > was.count) means[stage] = Math.round(((sum - was.sum) / (count - was.count)) * 10_000) / 10;
  }
  return means;
}

/** Commits and rows written in this database so far (pg_stat_database; they lag by up to a second), and its size. */
async function postgresWork(stack: Stack): Promise<{ commits: number; writes: number; bytes: number }> {
  const { rows } = await stack.pool.query<{ commits: string; writes: string; bytes: string }>(
    `SELECT xact_commit AS commits, tup_inserted + tup_updated + tup_deleted AS writes,
            pg_database_size(current_database()) AS bytes
       FROM pg_stat_database WHERE datname = current_database()`,
  );
  return { commits: Number(rows[0]!.commits), writes: Number(rows[0]!.writes), bytes: Number(rows[0]!.bytes) };
}

/** CPU seconds of this database's Postgres backends (per pid, so a backend that left keeps what it was counted). */
async function postgresCpu(stack: Stack): Promise<Map<number, number>> {
  const { rows } = await stack.pool.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  );
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    const cpu = cpuSeconds(pid);
    if (cpu !== null) out.set(pid, cpu);
  }
  return out;
}

function cpuSpent(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
  return total;
}

/**
 * The issue-19 scenarios, all checks on (simulation, decoding, valuation, spend + rate limits, audit), one gateway
 * process at a time (the Postgres connection budget here is shared):
 *
 *   hot     1 agent, one signing address: ordered by nonce, one signing lane
 *   spread  64 agents, each bound to its own signer key (one HD wallet, 64 paths): 64 signing lanes
 */
export async function fleetScenarios(
  stack: Stack,
  options: PipelineOptions & {
    only?: readonly string[];
    spreadKeys: readonly `0x${string}`[];
    /** Hours of spend history in every scope before the run (BENCH_SPEND_HISTORY_HOURS; default none). */
    spendHistoryHours?: number;
  },
): Promise<FleetRow[]> {
  if (GATEWAY_RUNTIME === 'compiled' && !existsSync(COMPILED_GATEWAY))
    throw new Error(`BENCH_RUNTIME=compiled needs ${COMPILED_GATEWAY.pathname}: run \`pnpm build\` first`);
  const owner = await stack.loginAs('owner');
  const hot = await stack.newAgent('bench-hot');
  const spread: { agentId: string; apiKey: string }[] = [];
  for (const [i, address] of options.spreadKeys.entries())
    spread.push(await stack.newAgent(`bench-spread-${i}`, address));
  const groups = [
    {
      scenario: 'hot' as const,
      name: 'pipeline: hot, 1 agent on 1 address, all checks on',
      agents: [hot],
    },
    {
      scenario: 'spread' as const,
      name: `pipeline: spread, ${spread.length} agents on ${spread.length} signer keys, all checks on`,
      agents: spread,
    },
  ].filter((g) => g.agents.length > 0 && (!options.only || options.only.includes(g.scenario)));
  const rows: FleetRow[] = [];
  for (const group of groups) {
    const tokens: string[] = [];
    for (const agent of group.agents) tokens.push(await stack.token(agent.apiKey));
    await setSpendLimits(
      stack,
      owner,
      group.agents.map((a) => a.agentId),
      true,
    );
    await seedSpendHistory(
      stack,
      group.agents.map((a) => a.agentId),
      options.spendHistoryHours ?? 0,
    );
    const gateway = await stack.spawnGateway(
      {
        ...RATE_LIMITS_ON,
        RATE_LIMIT_REDIS_PREFIX: `bench-${process.pid}-${group.scenario}:`,
        ...(process.env.BENCH_TRACE_FILE
          ? { BENCH_TRACE_FILE: `${process.env.BENCH_TRACE_FILE}.${group.scenario}.json` }
          : {}),
      },
      // e.g. BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof-{scenario}': a CPU profile per gateway.
      process.env.BENCH_GATEWAY_NODE_ARGS?.replaceAll('{scenario}', group.scenario).split(' ').filter(Boolean) ?? [],
      GATEWAY_RUNTIME,
      GATEWAY_NODE,
    );
    try {
      const nextToken = roundRobin(tokens);
      const run = (duration: number, latencies?: number[]) =>
        cannon(intentLoad(gateway.baseUrl, options.connections, duration, nextToken), latencies);
      if (options.warmupSeconds > 0) await run(options.warmupSeconds);
      const latencies: number[] = [];
      const before = await counts(stack);
      const counts0 = await gatewayCounts(gateway.baseUrl, owner);
      const pg0 = await postgresWork(stack);
      const cpu0 = {
        gateway: cpuSeconds(gateway.pid) ?? 0,
        gatewayMain: cpuSeconds(gateway.pid, gateway.pid) ?? 0,
        signer: cpuSeconds(stack.signer.child.pid!) ?? 0,
        anvil: cpuSeconds(stack.anvil.pid) ?? 0,
        postgres: await postgresCpu(stack),
      };
      const r = await run(options.seconds, latencies);
      const cpu1 = {
        gateway: cpuSeconds(gateway.pid) ?? 0,
        gatewayMain: cpuSeconds(gateway.pid, gateway.pid) ?? 0,
        signer: cpuSeconds(stack.signer.child.pid!) ?? 0,
        anvil: cpuSeconds(stack.anvil.pid) ?? 0,
        postgres: await postgresCpu(stack),
      };
      const after = await counts(stack);
      const counts1 = await gatewayCounts(gateway.baseUrl, owner);
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // let the statistics collector catch up
      const pg1 = await postgresWork(stack);
      const signed = after.signed - before.signed;
      const per = (n: number): number | null => (signed === 0 ? null : Math.round((n / signed) * 10) / 10);
      const perIntent = (seconds: number): number | null =>
        signed === 0 ? null : Math.round(((seconds * 1000) / signed) * 100) / 100;
      latencies.sort((x, y) => x - y);
      const memory = memoryMiB(gateway.pid);
      const row: FleetRow = {
        scenario: group.scenario,
        name: group.name,
        perSecond: latencies.length / r.duration,
        p50: quantile(latencies, 0.5),
        p99: quantile(latencies, 0.99),
        errors: r.non2xx + r.errors,
        signed,
        gatewayCpuMsPerIntent: perIntent(cpu1.gateway - cpu0.gateway),
        gatewayMainThreadCpuMsPerIntent: perIntent(cpu1.gatewayMain - cpu0.gatewayMain),
        gatewayMajorGcsPer1000:
          signed === 0 || counts0.majorGcs === null || counts1.majorGcs === null
            ? null
            : Math.round(((counts1.majorGcs - counts0.majorGcs) / signed) * 10_000) / 10,
        rssMiB: memory?.rss ?? null,
        rssPeakMiB: memory?.peak ?? null,
        rssAnonMiB: memory?.anon ?? null,
        rssFileMiB: memory?.file ?? null,
        signerCpuMsPerIntent: perIntent(cpu1.signer - cpu0.signer),
        postgresCpuMsPerIntent: perIntent(cpuSpent(cpu0.postgres, cpu1.postgres)),
        anvilCpuMsPerIntent: perIntent(cpu1.anvil - cpu0.anvil),
        auditRowsPerIntent: Math.round(((after.audit - before.audit) / Math.max(1, signed)) * 10) / 10,
        rpcCallsPerIntent: per(counts1.rpc - counts0.rpc),
        postgresCommitsPerIntent: per(pg1.commits - pg0.commits),
        postgresRowWritesPerIntent: per(pg1.writes - pg0.writes),
        postgresBytesPerIntent: signed === 0 ? null : Math.round((pg1.bytes - pg0.bytes) / signed),
        stageMs: stageMeans(counts0, counts1),
      };
      row.note = [
        `${signed} intents signed, ${after.rejected - before.rejected} rejected, ${r.statusCodeStats?.['429']?.count ?? 0} rate-limited (429)`,
        ...(options.spendHistoryHours ? [`from ${options.spendHistoryHours} h of spend buckets`] : []),
        `${row.auditRowsPerIntent} audit rows, ${row.rpcCallsPerIntent} RPC calls, ${row.postgresCommitsPerIntent} Postgres commits and ${row.postgresRowWritesPerIntent} rows (${row.postgresBytesPerIntent} bytes on disk) written per signed intent`,
        `CPU ms per signed intent: gateway ${row.gatewayCpuMsPerIntent} (main thread ${row.gatewayMainThreadCpuMsPerIntent}), signer ${row.signerCpuMsPerIntent}, Postgres ${row.postgresCpuMsPerIntent}, anvil ${row.anvilCpuMsPerIntent}`,
        `mean ms per stage: ${Object.entries(row.stageMs)
          .map(([stage, ms]) => `${stage} ${ms}`)
          .join(', ')}`,
        `gateway ${rss(gateway.pid)}, CPU ${(((cpu1.gateway - cpu0.gateway) / r.duration) * 100).toFixed(0)}% of a core, ${row.gatewayMajorGcsPer1000} full GCs per 1,000 signed intents`,
      ].join('; ');
      rows.push(row);
    } finally {
      await gateway.stop();
    }
  }
  return rows;
}

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
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { RECIPIENTS, callJson, type Stack } from '@clawd402/gateway/testing';

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

/** Off: what the integration stack uses, nothing binds. */
export const RATE_LIMITS_OFF: Record<string, string> = {
  RATE_LIMIT_IP_PER_MIN: '1000000',
  RATE_LIMIT_PRINCIPAL_PER_MIN: '1000000',
  RATE_LIMIT_PRINCIPAL_BURST: '1000000',
  RATE_LIMIT_INTENTS_PER_MIN: '1000000',
  RATE_LIMIT_AUTH_PER_MIN: '1000000',
  RATE_LIMIT_ADMIN_PER_MIN: '1000000',
};

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

/** One autocannon run; every response's latency (ms) is added to `latencies`. */
function cannon(options: autocannon.Options, latencies?: number[]): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    if (latencies) instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return null;
  }
}

export function rss(pid: number): string {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return `RSS ${Math.round(kb('VmRSS') / 1024)} MiB, peak ${Math.round(kb('VmHWM') / 1024)} MiB`;
  } catch {
    return 'RSS n/a';
  }
}

async function put(stack: Stack, ownerToken: string, body: Record<string, unknown>): Promise<void> {
  const res = await callJson(stack.baseUrl, ownerToken, 'PUT', '/admin/costs/limits', body);
  if (res.status !== 200) throw new Error(`PUT /admin/costs/limits ${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** Limits on the agents' scopes and the global scope (owner only, PUT /admin/costs/limits), or none. */
async function setSpendLimits(stack: Stack, ownerToken: string, agentIds: readonly string[], on: boolean): Promise<void> {
  for (const agentId of agentIds) {
    await put(stack, ownerToken, {
      scope: `agent:${agentId}`,
      dailyLimitUsd: on ? SPEND_LIMITS_ON.agentDailyUsd : null,
      hourlyLimitUsd: on ? SPEND_LIMITS_ON.agentHourlyUsd : null,
    });
  }
  await put(stack, ownerToken, { scope: 'global', dailyLimitUsd: on ? SPEND_LIMITS_ON.globalDailyUsd : null });
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
  const body = JSON.stringify({ type: 'transfer', chainId: 31337, to: RECIPIENTS[0], asset: 'native', amount: '0.000001' });
  let next = 0;
  const cannonOptions = (baseUrl: string, duration: number): autocannon.Options => ({
    url: `${baseUrl}/v1/intents`,
    connections: options.connections,
    duration,
    requests: [
      {
        method: 'POST',
        body,
        // Every request takes the next agent's token, so 64 agents spread evenly over the connections.
        setupRequest: (req) => ({ ...req, headers: { 'content-type': 'application/json', authorization: `Bearer ${group.tokens[next++ % group.tokens.length]}` } }),
      },
    ],
  });
  const modes = [
    { on: false, name: `pipeline: ${group.label}, limits off`, rateLimits: RATE_LIMITS_OFF },
    { on: true, name: `pipeline: ${group.label}, spend + rate limits on`, rateLimits: RATE_LIMITS_ON },
  ];
  const gateways = await Promise.all(
    modes.map((m) => stack.spawnGateway({ ...m.rateLimits, RATE_LIMIT_REDIS_PREFIX: `bench-${process.pid}-${group.tag}-${m.on ? 'on' : 'off'}:` })),
  );
  try {
    const tallies: Tally[] = modes.map(() => ({ latencies: [], seconds: 0, errors: 0, limited: 0, signed: 0, rejected: 0, audit: 0, intents: 0, transactions: 0, cpu: 0 }));
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
      const pct = (p: number): number | null => (t.latencies.length === 0 ? null : t.latencies[Math.min(t.latencies.length - 1, Math.floor(t.latencies.length * p))]!);
      return {
        name: m.name,
        perSecond: t.latencies.length / t.seconds,
        p50: pct(0.5),
        p99: pct(0.99),
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
    ...(await pair(stack, owner, { label: '1 agent', tag: '1', tokens: [await stack.token()], agentIds: [stack.agent.agentId] }, options)),
    ...(await pair(stack, owner, { label: `${AGENTS} agents`, tag: '64', tokens, agentIds: many.map((a) => a.agentId) }, options)),
  ];
}

/**
 * The pipeline with the seed policy active beside the dev policy, on one fresh agent and one gateway
 * process, alternating activation (POST /admin/policies/:version/activate) between slices. Both sets auto-approve
 * these intents (0.000001 ETH to anvil account 1), so the difference is what evaluating the set costs the pipeline.
 */
export async function policyScenarios(stack: Stack, options: PipelineOptions): Promise<PipelineRow[]> {
  const owner = await stack.loginAs('owner');
  const agent = await stack.newAgent('bench-policy-agent');
  const token = await stack.token(agent.apiKey);
  const sets = [
    { label: 'dev policy set (packages/policy/examples/dev-policy.yaml)', file: '../../../packages/policy/examples/dev-policy.yaml' },
    { label: 'seed policy set (the issue’s, unchanged)', file: '../../../packages/policy/examples/seed-policy.yaml' },
  ];
  const versions: number[] = [];
  for (const set of sets) {
    const res = await fetch(`${stack.baseUrl}/admin/policies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/yaml' },
      body: readFileSync(new URL(set.file, import.meta.url), 'utf8'),
    });
    if (res.status !== 201 && res.status !== 200) throw new Error(`policy upload failed: ${res.status} ${await res.text()}`);
    versions.push(((await res.json()) as { version: number }).version);
  }
  const gateway = await stack.spawnGateway({ ...RATE_LIMITS_OFF, RATE_LIMIT_REDIS_PREFIX: `bench-${process.pid}-policy:` });
  const activate = async (version: number): Promise<void> => {
    const res = await fetch(`${stack.baseUrl}/admin/policies/${version}/activate`, { method: 'POST', headers: { authorization: `Bearer ${owner}` } });
    if (res.status !== 200) throw new Error(`activation failed: ${res.status} ${await res.text()}`);
    for (let i = 0; i < 100; i++) {
      const state = await fetch(`${gateway.baseUrl}/admin/policies`, { headers: { authorization: `Bearer ${owner}` } });
      if ((((await state.json()) as { loaded?: { version: number } }).loaded?.version ?? -1) === version) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`gateway never loaded policy version ${version}`);
  };
  const body = JSON.stringify({ type: 'transfer', chainId: 31337, to: RECIPIENTS[0], asset: 'native', amount: '0.000001' });
  const run = (duration: number, latencies?: number[]) =>
    cannon(
      {
        url: `${gateway.baseUrl}/v1/intents`,
        connections: options.connections,
        duration,
        requests: [{ method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } }],
      },
      latencies,
    );
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
      const pct = (p: number): number | null => (t.latencies.length === 0 ? null : t.latencies[Math.min(t.latencies.length - 1, Math.floor(t.latencies.length * p))]!);
      return {
        name: `pipeline: 1 agent, ${set.label}`,
        perSecond: t.latencies.length / t.seconds,
        p50: pct(0.5),
        p99: pct(0.99),
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

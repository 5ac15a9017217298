/**
 * Decisions per second: the gateway's DecisionLanes (lock the spend scopes, read rolling spend, evaluate the policy,
 * apply breakers, prices and limits, record the intent with its audit record, reserve) driven in process, with no
 * HTTP and no signing, against real Postgres, beside floors measured in the same run through the same pool at the
 * same number of requests in flight:
 *
 *   floor  SELECT 1            one round trip per request (what the driver, the pool and Postgres cost here)
 *   floor  bare INSERT         one intent row per request, autocommit (no lock, no event, no audit, no bucket)
 *   floor  audited commit      one audit record per transaction, autocommit: every audited transaction chains its
 *                              records under one advisory lock held through COMMIT, so this is the most transactions
 *                              per second that any audited work (a decision batch, a signature…) can commit
 *   hot    1 agent            every request on the same agent: one hot spend row; the lane decides in batches
 *   spread 64 agents          one request in flight per agent: a lane batches several agents in one transaction
 *
 * with per-scope limits off (none configured), on (agent 24 h and 1 h, global 24 h, all far above what the run
 * spends: nothing is refused), and for 64 agents also agent limits alone (the global row is locked only when the
 * global scope carries a limit). The policy auto-approves small transfers. Read the ratios to the floors: absolute
 * numbers vary between runs on a shared 2-core machine. Nothing is asserted.
 * Each measurement runs in BENCH_ROUNDS interleaved slices (default 2) so that load from elsewhere falls on all alike.
 * Run alone with `pnpm --filter @clawd402/bench bench:decisions` (BENCH_DECISION_SECONDS per scenario, default 4,
 * floors half that; BENCH_DECISION_IN_FLIGHT, default 64). BENCH_DECISION_PROFILE=1 also prints, per scenario, the time
 * each kind of statement took per decision: where a decision's time goes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { createAgentWithKey, createPool, migrate, withTransaction } from '@clawd402/gateway';
import { DecisionLanes } from '@clawd402/gateway/reserve';
import type { DecisionRequest, MoneySettings } from '@clawd402/gateway/decide';
import { GLOBAL_SCOPE, agentScope, updateScopeLimits } from '@clawd402/gateway/spend-repository';
import { loadPolicySet } from '@clawd402/policy';
import { ANVIL_ACCOUNTS, createTestDatabase } from '@clawd402/testkit';

/** The issue's target for one hot agent: decisions per second (reported beside the floors, never asserted). */
export const HOT_AGENT_TARGET_PER_SECOND = 1_000;

/** The gateway's default DATABASE_POOL_MAX. */
const POOL_MAX = 20;
const AGENTS = 64;
const USD = 1_000_000n;
/** Anvil's well-known dev accounts (no real funds): the signer address agents are bound to, and the recipient. */
const SIGNER = ANVIL_ACCOUNTS[0].address;
const RECIPIENT = ANVIL_ACCOUNTS[1].address;
const AMOUNT = 10n ** 12n; // 0.000001 ETH
const PRICE = {
  status: 'ok',
  micros: 2_000n * USD,
  source: 'static',
  at: new Date(),
  symbol: 'ETH',
  decimals: 18,
} as const;
const GAS = 21_000n;
const FEES = { maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n };
const usdOf = (wei: bigint): bigint => (wei * PRICE.micros + 10n ** 18n - 1n) / 10n ** 18n;

const POLICY = `
policies:
  - name: small_transfers
    conditions:
      transaction_type: transfer
      max_value_usd: 100
      daily_limit_usd: 100000000
    action: auto_approve
  - name: default_deny
    conditions: {}
    action: reject
`;

/** Far above anything a run spends (about 0.09 USD per intent): limits are checked on every decision, never refuse. */
const LIMITS_ON = { agentDay: 10_000_000n * USD, agentHour: 1_000_000n * USD, globalDay: 100_000_000n * USD };

export interface DecisionBenchRow {
  name: string;
  perSecond: number;
  p50: number;
  p99: number;
  /** Requests that did not end approved (a limit or the policy refused, or an error). */
  refused: number;
  /** Mean intents decided per Postgres transaction (decision rows only). */
  batch: number | null;
  /** CPU milliseconds of this process (the lanes, the pg driver) per decision. */
  cpuMsPer: number;
  note: string;
  /** BENCH_DECISION_PROFILE=1: milliseconds each kind of statement took (round trip + waits), per decision. */
  profile?: { statement: string; count: number; msPerDecision: number }[];
}

type Pool = ReturnType<typeof createPool>;

interface Agent {
  agentId: string;
  apiKeyId: string;
}

const silent = (): void => {};
const log = {
  level: 'silent',
  fatal: silent,
  error: silent,
  warn: silent,
  info: silent,
  debug: silent,
  trace: silent,
  silent,
  child: () => log,
} as unknown as FastifyBaseLogger;

function request(agent: Agent): DecisionRequest {
  return {
    principal: {
      agentId: agent.agentId,
      apiKeyId: agent.apiKeyId,
      signerAddress: SIGNER,
      scopes: { chains: null, types: null },
      origin: { channel: 'rest', tool: null, client: null },
    },
    intent: Object.freeze({
      type: 'transfer',
      chainId: 31337,
      recipient: RECIPIENT,
      asset: 'native',
      amount: AMOUNT,
      decimals: 18,
      memo: null,
      call: Object.freeze({ to: RECIPIENT, value: AMOUNT, data: '0x' as const }),
      data: null,
      deadline: null,
    }),
    requestHash: randomBytes(32).toString('hex'),
    idempotencyKey: null,
    value: { status: 'ok', usd: usdOf(AMOUNT), price: PRICE },
    cost: { gas: GAS, fees: FEES, usd: { status: 'ok', usd: usdOf(GAS * FEES.maxFeePerGas), price: PRICE } },
    extraFacts: {},
  };
}

/** Statement kinds DecisionLanes sends, for BENCH_DECISION_PROFILE. */
const STATEMENT_KINDS: [RegExp, string][] = [
  [/INSERT INTO intents[\s\S]*audit_append/, 'insertIntentsBatch: intents + events + audit records + reservations'],
  [/INSERT INTO spend_scopes \(scope\) SELECT/, 'lockScopes: agent and key rows, then the global row'],
  [/day_edge AS/, 'readSpend'],
  [/^COMMIT$/, 'COMMIT (audit records chained under the audit lock, WAL flush)'],
  [/^BEGIN$/, 'BEGIN'],
];

type StatementTimes = Map<string, { count: number; ms: number }>;

/**
 * Time every statement sent on a client checked out with `pool.connect()` (how DecisionLanes runs its transactions)
 * into whatever `sink()` returns at the time. Wall time per statement: the round trip and any lock wait.
 */
function timeStatements(pool: Pool, sink: () => StatementTimes | null): void {
  type Client = { query: (...args: unknown[]) => Promise<unknown> };
  const connect = pool.connect.bind(pool) as unknown as (callback?: unknown) => Promise<Client> | undefined;
  const timed = new WeakSet<Client>();
  (pool as unknown as { connect: typeof connect }).connect = (callback?: unknown) => {
    if (callback !== undefined) return connect(callback); // pool.query's own path: not a lane transaction
    return connect()!.then((client) => {
      if (timed.has(client)) return client;
      timed.add(client);
      const query = client.query.bind(client);
      client.query = async (...args: unknown[]) => {
        const started = performance.now();
        try {
          return await query(...args);
        } finally {
          const into = sink();
          if (into) {
            const text = (typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text).trim();
            const kind =
              STATEMENT_KINDS.find(([pattern]) => pattern.test(text))?.[1] ?? text.split(/\s+/).slice(0, 3).join(' ');
            const entry = into.get(kind) ?? { count: 0, ms: 0 };
            entry.count += 1;
            entry.ms += performance.now() - started;
            into.set(kind, entry);
          }
        }
      };
      return client;
    });
  };
}

/** What a measurement collected, over one or more slices. */
interface Tally {
  latencies: number[];
  refused: number;
  cpuMs: number;
  seconds: number;
  /** Intents recorded and the decision transactions that recorded them (decision rows only). */
  intents: number;
  transactions: number;
  statements: StatementTimes;
}

const tally = (): Tally => ({
  latencies: [],
  refused: 0,
  cpuMs: 0,
  seconds: 0,
  intents: 0,
  transactions: 0,
  statements: new Map(),
});

/**
 * One slice: `inFlight` workers, each issuing `op` back to back for `seconds` of wall time (worker i passes i), adding
 * latencies, failures and this process's CPU time to `into`.
 */
async function closedLoop(
  into: Tally,
  inFlight: number,
  seconds: number,
  op: (worker: number) => Promise<boolean>,
): Promise<void> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, worker) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const ok = await op(worker).catch(() => false);
        into.latencies.push(performance.now() - t0);
        if (!ok) into.refused += 1;
      }
    }),
  );
  into.seconds += (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  into.cpuMs += (used.user + used.system) / 1000;
}

function percentile(sorted: readonly number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! * 10) / 10;
}

type Limits = 'off' | 'agent' | 'on';
const LIMITS_NOTE: Record<Limits, string> = {
  off: 'no limits configured',
  agent: 'agent 24 h + 1 h limits only; global row not locked',
  on: 'agent 24 h + 1 h and global 24 h limits; global row locked',
};

/** Set (or clear) the limits, in one transaction, through the repository the admin route uses (audited). */
async function setLimits(pool: Pool, agents: readonly Agent[], limits: Limits): Promise<void> {
  await withTransaction(pool, async (client) => {
    for (const agent of agents) {
      const update =
        limits === 'off'
          ? { limitDay: null, limitHour: null }
          : { limitDay: LIMITS_ON.agentDay, limitHour: LIMITS_ON.agentHour };
      await updateScopeLimits(client, agentScope(agent.agentId), update, 'system:bench');
    }
    await updateScopeLimits(
      client,
      GLOBAL_SCOPE,
      { limitDay: limits === 'on' ? LIMITS_ON.globalDay : null },
      'system:bench',
    );
  });
}

/** Intents recorded since `since` and in how many transactions (intents of one share created_at: the start time). */
async function countBatches(pool: Pool, since: Date, into: Tally): Promise<void> {
  const { rows } = await pool.query<{ n: string; batches: string }>(
    `SELECT count(*) AS n, count(DISTINCT created_at) AS batches FROM intents WHERE created_at >= $1`,
    [since],
  );
  into.intents += Number(rows[0]!.n);
  into.transactions += Number(rows[0]!.batches);
}

export async function decisionBench(
  seconds = Number(process.env.BENCH_DECISION_SECONDS ?? 4),
  inFlight = Number(process.env.BENCH_DECISION_IN_FLIGHT ?? 64),
  rounds = Number(process.env.BENCH_ROUNDS ?? 2),
  profile = process.env.BENCH_DECISION_PROFILE === '1',
): Promise<DecisionBenchRow[]> {
  const db = await createTestDatabase();
  const pool = createPool(db.url, POOL_MAX);
  let timing: StatementTimes | null = null;
  if (profile) timeStatements(pool, () => timing);
  try {
    await migrate(pool);
    const agents: Agent[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const created = await createAgentWithKey(pool, { name: `bench-${i}`, signerAddress: SIGNER });
      agents.push({ agentId: created.agentId, apiKeyId: created.apiKeyId });
    }
    const policy = loadPolicySet(POLICY);
    const money: MoneySettings = {
      breaker: { warning: 10n ** 15n, soft: 10n ** 15n, hard: 10n ** 15n, emergency: 10n ** 15n }, // far away
      hardAllowlist: [],
      hardCapMicros: 10n * USD,
      softApproval: {
        notification: { channels: [], timeoutSeconds: 1800 },
        quorum: { required: 1, excludeAgentOwner: false },
      },
      alertChannels: [],
    };
    const lanes = new DecisionLanes({ pool, policy: () => policy, money, log });
    const decide = async (agent: Agent): Promise<boolean> =>
      (await lanes.decide(request(agent)))?.status === 'approved';

    // Warm up the JIT, the pool's connections and their prepared statements.
    await closedLoop(tally(), inFlight, 1, (w) => decide(agents[w % AGENTS]!));

    // The same intent row a decision records, inserted alone: no scope lock, history event, audit record or bucket.
    const decisionJson = JSON.stringify({
      action: 'auto_approve',
      policy: 'small_transfers',
      reasons: [],
      money: { valueUsd: '0.002', feeUsd: '0.084', reservedUsd: '0.086', breaker: 'green', budgets: [] },
    });
    const floors: { name: string; note: string; op: (worker: number) => Promise<boolean> }[] = [
      {
        name: 'floor: SELECT 1 round trip',
        note: `${inFlight} in flight, pool of ${POOL_MAX}`,
        op: async () => (await pool.query({ name: 'bench_select_1', text: 'SELECT 1 AS one' })).rowCount === 1,
      },
      {
        name: 'floor: bare INSERT of an intent row',
        note: 'autocommit, one row per round trip',
        op: async (w) => {
          const agent = agents[w % AGENTS]!;
          const { rowCount } = await pool.query({
            name: 'bench_insert_intent',
            text: `INSERT INTO intents (id, agent_id, api_key_id, request_hash, status, type, chain_id, from_address, to_address, recipient,
                     asset, amount, decimals, decision, value_usd_micros, fee_usd_micros, spend_usd_micros, spend_state, spend_minute)
                   VALUES ($1, $2, $3, $4, 'approved', 'transfer', 31337, $5, $6, $6, 'native', $7, 18, $8::jsonb, 2000, 84000, 86000,
                     'released', date_trunc('minute', now()))`,
            values: [
              randomUUID(),
              agent.agentId,
              agent.apiKeyId,
              randomBytes(32).toString('hex'),
              SIGNER,
              RECIPIENT,
              AMOUNT.toString(),
              decisionJson,
            ],
          });
          return rowCount === 1;
        },
      },
      {
        name: 'floor: audited commit (one audit record per transaction)',
        note: 'autocommit; chained at COMMIT under the audit lock',
        op: async () => {
          const { rowCount } = await pool.query({
            name: 'bench_audit_append',
            text: `SELECT audit_append(now(), 'system:bench', 'bench.floor', NULL, $1)`,
            values: [JSON.stringify({ action: 'bench.floor', nonce: randomBytes(16).toString('hex') })],
          });
          return rowCount === 1;
        },
      },
    ];
    const modes: { name: string; agents: number; limits: Limits }[] = [
      { name: '1 hot agent, limits off', agents: 1, limits: 'off' },
      { name: '1 hot agent, limits on', agents: 1, limits: 'on' },
      { name: `${AGENTS} agents, limits off`, agents: AGENTS, limits: 'off' },
      { name: `${AGENTS} agents, limits on`, agents: AGENTS, limits: 'on' },
      { name: `${AGENTS} agents, agent limits only`, agents: AGENTS, limits: 'agent' },
    ];
    // Every measurement runs in `rounds` slices, interleaved, so that load from elsewhere on a shared machine falls on
    // all of them alike instead of on whichever ran during a busy spell.
    const floorTallies = floors.map(tally);
    const modeTallies = modes.map(tally);
    for (let round = 0; round < rounds; round++) {
      for (const [i, floor] of floors.entries())
        await closedLoop(floorTallies[i]!, inFlight, seconds / rounds / 2, floor.op);
      for (const [i, mode] of modes.entries()) {
        await setLimits(pool, agents, mode.limits);
        const since = (await pool.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
        timing = modeTallies[i]!.statements;
        await closedLoop(modeTallies[i]!, inFlight, seconds / rounds, (w) => decide(agents[w % mode.agents]!));
        timing = null;
        await countBatches(pool, since, modeTallies[i]!);
      }
    }
    const row = (name: string, t: Tally, note: string, decisions: boolean): DecisionBenchRow => {
      t.latencies.sort((x, y) => x - y);
      return {
        name,
        perSecond: t.latencies.length / t.seconds,
        p50: percentile(t.latencies, 0.5),
        p99: percentile(t.latencies, 0.99),
        refused: t.refused,
        batch: decisions ? t.intents / Math.max(1, t.transactions) : null,
        cpuMsPer: t.cpuMs / t.latencies.length,
        note,
        ...(profile && decisions
          ? {
              profile: [...t.statements]
                .sort((x, y) => y[1].ms - x[1].ms)
                .map(([statement, e]) => ({ statement, count: e.count, msPerDecision: e.ms / t.latencies.length })),
            }
          : {}),
      };
    };
    const rows = [
      ...floors.map((f, i) => row(f.name, floorTallies[i]!, f.note, false)),
      ...modes.map((m, i) => row(m.name, modeTallies[i]!, LIMITS_NOTE[m.limits], true)),
    ];
    return rows;
  } finally {
    await pool.end();
    await db.drop();
  }
}

export function printDecisionRows(rows: readonly DecisionBenchRow[]): void {
  const select1 = rows[0]!.perSecond;
  const insert = rows[1]!.perSecond;
  const audited = rows[2]!.perSecond;
  const fmt = (n: number | null, digits = 1): string => (n === null ? '-' : n.toFixed(digits));
  console.log(
    '\n| decisions (DecisionLanes in process, real Postgres) | per second | p50 ms | p99 ms | refused | intents per transaction | CPU ms each (this process) | ÷ SELECT 1 floor | ÷ INSERT floor | ÷ audited-commit floor | ÷ 1,000/s target | note |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const row of rows) {
    const target = row.batch === null ? '-' : (row.perSecond / HOT_AGENT_TARGET_PER_SECOND).toFixed(2);
    console.log(
      `| ${row.name} | ${row.perSecond.toFixed(0)} | ${fmt(row.p50)} | ${fmt(row.p99)} | ${row.refused} | ${fmt(row.batch)} | ${row.cpuMsPer.toFixed(3)} | ${(row.perSecond / select1).toFixed(3)} | ${(row.perSecond / insert).toFixed(3)} | ${(row.perSecond / audited).toFixed(3)} | ${target} | ${row.note} |`,
    );
  }
  for (const row of rows) {
    if (!row.profile) continue;
    const wallMs = 1000 / row.perSecond;
    console.log(
      `\n${row.name}: ${wallMs.toFixed(3)} ms of wall time per decision; statement time per decision (round trip + waits):`,
    );
    for (const p of row.profile)
      console.log(`  ${p.msPerDecision.toFixed(3).padStart(8)} ms  ${p.count.toString().padStart(6)}×  ${p.statement}`);
  }
  const byName = new Map(rows.map((r) => [r.name, r.perSecond]));
  const ratio = (on: string, off: string): string => ((byName.get(on) ?? NaN) / (byName.get(off) ?? NaN)).toFixed(2);
  console.log(
    `\nlimits on ÷ off: 1 hot agent ${ratio('1 hot agent, limits on', '1 hot agent, limits off')}, ${AGENTS} agents ${ratio(`${AGENTS} agents, limits on`, `${AGENTS} agents, limits off`)} (agent limits only ÷ off: ${ratio(`${AGENTS} agents, agent limits only`, `${AGENTS} agents, limits off`)})`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printDecisionRows(await decisionBench());
}

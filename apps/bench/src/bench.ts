/**
 * `pnpm bench`: the signing spine under load, beside floors measured in the same run on the same machine.
 *
 *   floor 1  bare Fastify JSON echo (what HTTP + JSON costs here)            autocannon, 50 connections
 *   floor 2  the signer's raw signing rate over its socket (tickets pre-minted) SignerClient, 50 in flight
 *   pipeline POST /v1/intents: auth → rate limits → validate → decision (spend locks, policy, limits) → nonce →
 *            ticket → sign → audit → submit, against real Postgres and Redis, a separate gateway process per
 *            scenario, anvil mining a block a second: 1 agent and 64 agents, spend + rate limits off and on
 *            (src/pipeline-bench.ts)
 *   decisions DecisionLanes in process (no HTTP, no signing) against real Postgres: 1 hot agent and 64 agents,
 *            limits off and on, beside SELECT 1, bare-INSERT and audited-commit floors (src/decision-bench.ts;
 *            alone: pnpm --filter @clawd402/bench bench:decisions)
 *   signer   signatures per CPU-second: viem's signTransaction in process beside the signer process doing the
 *            whole job (src/signer-bench.ts; alone: pnpm --filter @clawd402/bench bench:signer)
 *   policy   evaluate() per CPU-second: seed set and 200 rules beside a one-rule floor (src/policy-bench.ts;
 *            alone: pnpm --filter @clawd402/bench bench:policy)
 *   auth     POST /auth/token for unknown key ids vs known key ids with a wrong secret: medians, Mann-Whitney and
 *            Kolmogorov-Smirnov (src/auth-timing-bench.ts; alone: pnpm --filter @clawd402/bench bench:auth)
 *   hot, spread  issue 19's scenarios, all checks on: 1 agent on one address, and 64 agents on 64 signer keys (one HD
 *            wallet), beside an eth_simulateV1 floor and a composed bare-pipeline floor (src/floors.ts); written to
 *            .bench/results.json. BENCH_QUICK=1 runs only these and the floors.
 *   json     the strict request-body parser beside JSON.parse and secure-json-parse, per body
 *            (src/json-body-bench.ts; alone: pnpm --filter @clawd402/bench bench:json)
 *
 * Machines here are noisy: read the ratios, not the absolute numbers. Nothing is asserted.
 * Options: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 50), BENCH_WARMUP_SECONDS (default 2, per pipeline
 * scenario), BENCH_ROUNDS (default 2: interleaved off/on slices), BENCH_DECISION_SECONDS (default 4),
 * BENCH_DECISION_IN_FLIGHT (default 64), BENCH_AUTH_SAMPLES (default 200 per kind), BENCH_JSON_ROUNDS (default 5),
 * BENCH_RUNTIME=compiled (hot and spread gateways from `pnpm build`'s dist/, as the image runs; default the sources
 * through tsx), BENCH_SPEND_HISTORY_HOURS (default 0: hot and spread start from that many hours of spend buckets in
 * every scope, as a gateway that has been running for a day sees them).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { keccak256, toHex } from 'viem';
import { SignerClient, TicketIssuer, loadTicketPrivateKey } from '@clawd402/signer-client';
import { ticketedBenchTransfer } from './bench-transfer.ts';
import { RECIPIENTS, startStack } from '@clawd402/gateway/testing';
import { guardChild } from '@clawd402/testkit';
import { decisionBench, printDecisionRows } from './decision-bench.ts';
import {
  GATEWAY_NODE_VERSION,
  GATEWAY_RUNTIME,
  fleetScenarios,
  pipelineScenarios,
  policyScenarios,
  type FleetRow,
  type PipelineRow,
} from './pipeline-bench.ts';
import { bareFloor, simulateFloor } from './floors.ts';
import { printSignerRows, signerVsViem } from './signer-bench.ts';
import { policyBench, printPolicyRows } from './policy-bench.ts';
import { authTimingBench, printAuthTimingRows } from './auth-timing-bench.ts';
import { jsonBodyBench, printJsonBodyRows } from './json-body-bench.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** BENCH_QUICK=1: only the floors and the hot and spread scenarios (the iteration loop for issue 19). */
const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_SPEND_HISTORY_HOURS=24: hot and spread start from that many hours of spend buckets (default 0: none). */
const SPEND_HISTORY_HOURS = Number(process.env.BENCH_SPEND_HISTORY_HOURS ?? 0);
/** BENCH_SCENARIOS=hot,spread: which of the two to run (default both). */
const ONLY = process.env.BENCH_SCENARIOS?.split(',').map((s) => s.trim());
/** The spread scenario's fleet: this many agents, each on its own signer key. */
const SPREAD_KEYS = 64;
const RESULTS_FILE = new URL('../../../.bench/results.json', import.meta.url);
const TSX = import.meta.resolve('tsx');
const ECHO_SERVER = new URL('./echo-server.ts', import.meta.url).pathname;

type Row = PipelineRow;

function cannon(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error: unknown, result) =>
      error
        ? reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }))
        : resolve(result),
    );
  });
}

async function echoFloor(): Promise<Row> {
  const child = spawn(process.execPath, ['--import', TSX, ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  guardChild(child, 'clawd402-bench-guard'); // a killed bench leaves no server behind
  const url = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  try {
    const body = JSON.stringify({
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[0],
      asset: 'native',
      amount: '0.001',
    });
    const r = await cannon({
      url: `${url}/echo`,
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      connections: CONNECTIONS,
      duration: Math.max(3, SECONDS / 2),
    });
    return {
      name: 'floor: Fastify JSON echo',
      perSecond: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      errors: r.non2xx + r.errors,
    };
  } finally {
    child.kill('SIGTERM');
  }
}

async function signerFloor(socketPath: string, ticketKeyPem: string, signer: `0x${string}`): Promise<Row> {
  const client = new SignerClient({ socketPath, connections: 4, timeoutMs: 30_000 });
  const issuer = new TicketIssuer({
    privateKey: loadTicketPrivateKey(ticketKeyPem),
    keyId: 'bench',
    lifetimeSeconds: 60,
  });
  const total = 3_000;
  // Pre-mint tickets so only the signer's work (frame, ticket check, journal, secp256k1 signature) is timed.
  const jobs = await Promise.all(
    Array.from({ length: total }, (_, i) =>
      ticketedBenchTransfer(issuer, signer, keccak256(toHex(i)), 1_000_000 + i, RECIPIENTS[0]!),
    ),
  );
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        const t0 = performance.now();
        await client.signTransaction(job).catch(() => (errors += 1));
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await client.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]! * 10) / 10;
  return { name: 'floor: signer raw signing', perSecond: total / elapsed, p50: pct(0.5), p99: pct(0.99), errors };
}

/** The table: every row beside the echo floor (rows[0]) and the signer floor (rows[1]). */
function printRows(rows: readonly Row[]): void {
  const echo = rows[0]!.perSecond;
  const sign = rows[1]!.perSecond;
  const fmt = (n: number | null): string => (n === null ? '-' : n.toFixed(1));
  console.log('\n| scenario | per second | p50 ms | p99 ms | errors | ÷ echo floor | ÷ signer floor | on ÷ off |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const vsOff = row.vsOff === undefined ? '-' : row.vsOff.toFixed(2);
    console.log(
      `| ${row.name} | ${row.perSecond.toFixed(0)} | ${fmt(row.p50)} | ${fmt(row.p99)} | ${row.errors} | ${(row.perSecond / echo).toFixed(3)} | ${(row.perSecond / sign).toFixed(3)} | ${vsOff} |`,
    );
  }
  for (const row of rows) if (row.note) console.log(`\n${row.name}: ${row.note}`);
}

/**
 * `.bench/results.json` (repository root): per scenario perSecond, p50Ms, p99Ms, gatewayCpuMsPerIntent (and its main
 * thread's part, gatewayMainThreadCpuMsPerIntent), full GCs per 1,000 signed intents, rssMiB (with
 * its peak and its anonymous and file-backed parts), the mean milliseconds per stage of the intent path (stageMs) and
 * its ratios to the floors, and the floors themselves, so runs can be compared.
 */
function writeResults(rows: readonly Row[], fleet: readonly FleetRow[]): void {
  const floor = (prefix: string): Row | undefined => rows.find((r) => r.name.startsWith(prefix));
  const brief = (r: Row | undefined) =>
    r === undefined ? null : { perSecond: Math.round(r.perSecond), p50Ms: r.p50, p99Ms: r.p99, errors: r.errors };
  const floors = {
    echo: brief(floor('floor: Fastify')),
    signer: brief(floor('floor: signer')),
    simulate: brief(floor('floor: eth_simulateV1')),
    barePipeline: brief(floor('floor: bare pipeline')),
  };
  const scenarios = Object.fromEntries(
    fleet.map((r) => [
      r.scenario,
      {
        name: r.name,
        perSecond: Math.round(r.perSecond * 10) / 10,
        p50Ms: r.p50,
        p99Ms: r.p99,
        errors: r.errors,
        signed: r.signed,
        gatewayCpuMsPerIntent: r.gatewayCpuMsPerIntent,
        gatewayMainThreadCpuMsPerIntent: r.gatewayMainThreadCpuMsPerIntent,
        gatewayMajorGcsPer1000: r.gatewayMajorGcsPer1000,
        rssMiB: r.rssMiB,
        rssPeakMiB: r.rssPeakMiB,
        rssAnonMiB: r.rssAnonMiB,
        rssFileMiB: r.rssFileMiB,
        signerCpuMsPerIntent: r.signerCpuMsPerIntent,
        postgresCpuMsPerIntent: r.postgresCpuMsPerIntent,
        anvilCpuMsPerIntent: r.anvilCpuMsPerIntent,
        auditRowsPerIntent: r.auditRowsPerIntent,
        rpcCallsPerIntent: r.rpcCallsPerIntent,
        postgresCommitsPerIntent: r.postgresCommitsPerIntent,
        postgresRowWritesPerIntent: r.postgresRowWritesPerIntent,
        postgresBytesPerIntent: r.postgresBytesPerIntent,
        stageMs: r.stageMs,
        vsSignerFloor: floors.signer ? Math.round((r.perSecond / floors.signer.perSecond) * 1000) / 1000 : null,
        vsBarePipelineFloor: floors.barePipeline
          ? Math.round((r.perSecond / floors.barePipeline.perSecond) * 1000) / 1000
          : null,
      },
    ]),
  );
  const others = rows
    .filter((r) => !r.name.startsWith('floor:') && !fleet.includes(r as FleetRow))
    .map((r) => ({ name: r.name, ...brief(r) }));
  const results = {
    at: new Date().toISOString(),
    machine: { cores: cpus().length, loadAverage: loadavg().map((l) => Math.round(l * 100) / 100) },
    options: {
      seconds: SECONDS,
      connections: CONNECTIONS,
      warmupSeconds: WARMUP_SECONDS,
      quick: QUICK,
      gatewayRuntime: GATEWAY_RUNTIME,
      // The Node release the hot and spread gateways ran on (BENCH_GATEWAY_NODE, or the bench's own).
      gatewayNode: GATEWAY_NODE_VERSION,
      // Flags that size V8's heap decide `rssMiB` too (--max-semi-space-size: docs/capacity.md), wherever they are set.
      gatewayNodeArgs: process.env.BENCH_GATEWAY_NODE_ARGS || null,
      nodeOptions: process.env.NODE_OPTIONS || null,
      spendHistoryHours: SPEND_HISTORY_HOURS,
      // The gateways inherit the environment: their heap setting decides much of `rssMiB` (docs/capacity.md).
      // null: the gateway's default (docs/configuration.md).
      heapGrowthPercent: process.env.HEAP_GROWTH_PERCENT ?? null,
    },
    floors,
    scenarios,
    otherRows: others,
  };
  mkdirSync(new URL('.', RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  process.stderr.write(`bench: wrote ${RESULTS_FILE.pathname}\n`);
}

async function main(): Promise<void> {
  process.stderr.write(`bench: ${SECONDS}s per scenario, ${CONNECTIONS} connections\n`);
  // One HD wallet key per spread agent, and one more for the bare-pipeline floor.
  const stack = await startStack({ tracker: false, anvilArgs: { blockTime: 1 }, signerHdKeys: SPREAD_KEYS + 1 });
  try {
    const rows: Row[] = [];
    rows.push(await echoFloor());
    const spreadKeys = stack.signerHdAddresses.slice(0, SPREAD_KEYS);
    const bareKey = stack.signerHdAddresses[SPREAD_KEYS]!;
    // The signer's raw rate, with the stack's socket, ticket key and signing address.
    const stackSignerFloor = () =>
      signerFloor(
        stack.env.SIGNER_SOCKET!,
        readFileSync(stack.env.TICKET_PRIVATE_KEY_FILE!, 'utf8'),
        stack.signerAddress,
      );
    const pipelineOptions = {
      seconds: SECONDS,
      connections: CONNECTIONS,
      warmupSeconds: WARMUP_SECONDS,
      rounds: ROUNDS,
    };
    process.stderr.write('bench: floors\n');
    const simulate = await simulateFloor(stack, bareKey, { seconds: Math.max(3, SECONDS / 2), inFlight: CONNECTIONS });
    const bare = await bareFloor(stack, bareKey, {
      seconds: SECONDS,
      connections: CONNECTIONS,
      warmupSeconds: WARMUP_SECONDS,
    });
    process.stderr.write('bench: hot and spread scenarios\n');
    const fleet = await fleetScenarios(stack, {
      seconds: SECONDS,
      connections: CONNECTIONS,
      warmupSeconds: WARMUP_SECONDS,
      rounds: 1,
      spreadKeys,
      spendHistoryHours: SPEND_HISTORY_HOURS,
      ...(ONLY ? { only: ONLY } : {}),
    });
    rows.push(simulate, bare, ...fleet);
    if (QUICK) {
      rows.splice(1, 0, await stackSignerFloor());
      printRows(rows);
      writeResults(rows, fleet);
      return;
    }
    // Money safety off and on, 1 agent and 64 agents (src/pipeline-bench.ts).
    rows.push(...(await pipelineScenarios(stack, pipelineOptions)));
    // The seed policy active beside the dev set: what evaluating the policy costs the pipeline ("on ÷ off" = seed ÷ dev).
    rows.push(...(await policyScenarios(stack, pipelineOptions)));
    // Last, though listed second: it signs nonces 1,000,000+ with the stack's key, and the signer's nonce guard then
    // refuses new transactions more than 1024 below those (nonce_below_window), so the pipeline must have run first.
    rows.splice(1, 0, await stackSignerFloor());

    printRows(rows);
    writeResults(rows, fleet);
    // Whether /auth/token's timing tells unknown key ids from known ones (src/auth-timing-bench.ts).
    printAuthTimingRows(await authTimingBench(stack));
  } finally {
    await stack.stop();
  }
  // Decisions per second without HTTP or signing: the limit machinery beside Postgres floors (src/decision-bench.ts).
  printDecisionRows(await decisionBench());
  // Signatures per second per core: the signer (ticket check, policy, journal fdatasync, secp256k1) beside viem alone.
  printSignerRows(await signerVsViem());
  // Policy evaluations per CPU-second: the seed set and a 200-rule set beside a one-rule floor (src/policy-bench.ts).
  printPolicyRows(policyBench());
  // What the strict JSON body parser costs beside JSON.parse (src/json-body-bench.ts).
  printJsonBodyRows(jsonBodyBench());
}

await main();

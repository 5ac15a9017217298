/**
 * Floors measured beside the pipeline in the same run (issue 19):
 *
 *   eth_simulateV1   the same anvil answering the simulation the gateway sends for a native transfer, N in flight
 *   bare pipeline    the parts one signed intent needs and nothing else, composed in one server process
 *                    (src/bare-pipeline-server.ts): HTTP + JWT verify + one Redis call + one eth_simulateV1 + one
 *                    audited Postgres transaction + one signer round trip
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { RECIPIENTS, type Stack } from '@clawd402/gateway/testing';
import { guardChild } from '@clawd402/testkit';
import type { PipelineRow } from './pipeline-bench.ts';
import { simulateRequest } from './simulate-request.ts';

const TSX = import.meta.resolve('tsx');
const BARE_SERVER = new URL('./bare-pipeline-server.ts', import.meta.url).pathname;

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! * 10) / 10;
}

/** eth_simulateV1 straight to anvil, `inFlight` at a time for `seconds`. */
export async function simulateFloor(
  stack: Stack,
  from: `0x${string}`,
  options: { seconds: number; inFlight: number },
): Promise<PipelineRow> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const until = started + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.inFlight }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          const res = await fetch(stack.anvil.rpcUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(simulateRequest(from, RECIPIENTS[0]!, 1n)),
          });
          const answer = (await res.json()) as { result?: unknown };
          if (!answer.result) errors += 1;
        } catch {
          errors += 1;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name: 'floor: eth_simulateV1 on the same anvil',
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    errors,
  };
}

/** The composed bare pipeline (src/bare-pipeline-server.ts) under autocannon, like the pipeline rows. */
export async function bareFloor(
  stack: Stack,
  from: `0x${string}`,
  options: { seconds: number; connections: number; warmupSeconds: number },
): Promise<PipelineRow> {
  const child = spawn(process.execPath, ['--import', TSX, BARE_SERVER], {
    env: { ...process.env, ...stack.env, ANVIL_URL: stack.anvil.rpcUrl, BARE_FROM: from },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  guardChild(child, 'clawd402-bench-guard'); // a killed bench leaves no server behind
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    let early: ((code: number | null) => void) | undefined;
    const url = await new Promise<string>((resolve, reject) => {
      early = (code) => reject(new Error(`bare pipeline server exited with ${code}`));
      child.once('exit', early);
      createInterface({ input: child.stdout }).once('line', resolve);
    });
    child.off('exit', early!);
    const { token } = (await (await fetch(`${url}/token`)).json()) as { token: string };
    const run = (duration: number, latencies?: number[]): Promise<autocannon.Result> =>
      new Promise((resolve, reject) => {
        const instance = autocannon(
          {
            url: `${url}/bare`,
            method: 'POST',
            connections: options.connections,
            duration,
            body: JSON.stringify({ to: RECIPIENTS[0], amount: '0.000001' }),
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          },
          (error: unknown, result) =>
            error ? reject(error instanceof Error ? error : new Error('autocannon failed')) : resolve(result),
        );
        if (latencies) instance.on('response', (_c, _s, _b, ms) => latencies.push(ms));
      });
    if (options.warmupSeconds > 0) await run(options.warmupSeconds);
    const latencies: number[] = [];
    const r = await run(options.seconds, latencies);
    latencies.sort((a, b) => a - b);
    return {
      name: 'floor: bare pipeline (HTTP + JWT + Redis + eth_simulateV1 + audited tx + signer)',
      perSecond: latencies.length / r.duration,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      errors: r.non2xx + r.errors,
    };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

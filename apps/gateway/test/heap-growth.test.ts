// HEAP_GROWTH_PERCENT: the setting parses as documented, and starting the gateway hands it to V8 — a process whose
// gateway started with a low factor keeps a smaller heap under the same work than one started with a high one. Each
// runs in a child process, since the factor is process-wide; its gateway stops at its first dependency (Postgres on
// a closed port), after the factor was applied and before anything listens.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { assertConfigRefused, configFixture } from './support/config-env.ts';

const CONFIG = fileURLToPath(new URL('../src/config.ts', import.meta.url));
const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url));

/**
 * Start the gateway from the environment in GATEWAY_ENV (it must fail at its first dependency), then keep about 50 MiB
 * live while batches of short-lived objects, some surviving a few scavenges, churn through the old generation. Prints
 * the largest heap V8 committed.
 */
const WORKLOAD = `
  import { getHeapStatistics } from 'node:v8';
  const { loadConfig } = await import(process.env.CONFIG_MODULE);
  const { startServer } = await import(process.env.SERVER_MODULE);
  const started = await startServer(loadConfig(JSON.parse(process.env.GATEWAY_ENV))).then(
    () => true,
    () => false,
  );
  const live = [];
  for (let i = 0; i < 400_000; i++) live.push({ i, text: 'x'.repeat(50) + i });
  const recent = [];
  let peak = 0;
  for (let round = 0; round < 300; round++) {
    const batch = [];
    for (let i = 0; i < 20_000; i++) batch.push({ i, text: 'y'.repeat(30) + i });
    recent.push(batch);
    if (recent.length > 10) recent.shift();
    peak = Math.max(peak, getHeapStatistics().total_heap_size);
  }
  process.stdout.write(JSON.stringify({ started, peak, live: live.length }));
  process.exit(0);
`;

describe('HEAP_GROWTH_PERCENT', { timeout: 90_000 }, () => {
  const fixture = configFixture('clawd402-heap-');
  after(() => fixture.remove());

  /** The peak heap of a child whose gateway started with HEAP_GROWTH_PERCENT=`percent`. */
  function peakHeap(percent: number): number {
    const gatewayEnv = {
      ...fixture.test,
      DATABASE_URL: 'postgres://clawd402@127.0.0.1:1/clawd402', // nothing listens: start-up stops there
      HEAP_GROWTH_PERCENT: String(percent),
    };
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WORKLOAD], {
      env: { ...process.env, CONFIG_MODULE: CONFIG, SERVER_MODULE: SERVER, GATEWAY_ENV: JSON.stringify(gatewayEnv) },
      encoding: 'utf8',
    });
    const { started, peak, live } = JSON.parse(out) as { started: boolean; peak: number; live: number };
    assert.equal(started, false, 'the gateway must stop at its unreachable database');
    assert.equal(live, 400_000);
    return peak;
  }

  test('defaults to 50, takes 0 (V8 decides) and 10–400, refuses the rest', () => {
    const env = fixture.test;
    assert.equal(loadConfig(env).heapGrowthPercent, 50);
    assert.equal(loadConfig({ ...env, HEAP_GROWTH_PERCENT: '0' }).heapGrowthPercent, 0);
    assert.equal(loadConfig({ ...env, HEAP_GROWTH_PERCENT: '40' }).heapGrowthPercent, 40);
    for (const bad of ['5', '401', '-10', '1.5', 'lots'])
      assertConfigRefused({ ...env, HEAP_GROWTH_PERCENT: bad }, 'HEAP_GROWTH_PERCENT');
  });

  test('a gateway started with a low factor keeps a smaller heap under the same work than one with a high one', () => {
    const low = peakHeap(30);
    const high = peakHeap(300);
    assert.ok(low < high * 0.75, `peak heap ${low} bytes at 30 % against ${high} at 300 %`);
  });
});

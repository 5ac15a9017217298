// HEAP_GROWTH_PERCENT: the setting parses as documented, and it reaches V8 — a process that applies a low factor
// keeps a smaller heap under the same work than one that applies a high one. Each workload runs in a child process,
// since the factor is process-wide.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { assertConfigRefused, configFixture } from './support/config-env.ts';

const MODULE = fileURLToPath(new URL('../src/lib/heap-growth.ts', import.meta.url));

/**
 * About 50 MiB stays live while batches of short-lived objects, some surviving a few scavenges, churn through the old
 * generation. Prints the largest heap V8 committed.
 */
const WORKLOAD = `
  import { getHeapStatistics } from 'node:v8';
  const { applyHeapGrowth } = await import(process.env.MODULE);
  applyHeapGrowth(Number(process.env.PERCENT));
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
  process.stdout.write(JSON.stringify({ peak, live: live.length }));
`;

function peakHeap(percent: number): number {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WORKLOAD], {
    env: { ...process.env, MODULE, PERCENT: String(percent) },
    encoding: 'utf8',
  });
  const { peak, live } = JSON.parse(out) as { peak: number; live: number };
  assert.equal(live, 400_000);
  return peak;
}

describe('HEAP_GROWTH_PERCENT', { timeout: 60_000 }, () => {
  const fixture = configFixture('clawd402-heap-');
  after(() => fixture.remove());

  test('defaults to 50, takes 0 (V8 decides) and 10–400, refuses the rest', () => {
    const env = fixture.test;
    assert.equal(loadConfig(env).heapGrowthPercent, 50);
    assert.equal(loadConfig({ ...env, HEAP_GROWTH_PERCENT: '0' }).heapGrowthPercent, 0);
    assert.equal(loadConfig({ ...env, HEAP_GROWTH_PERCENT: '40' }).heapGrowthPercent, 40);
    for (const bad of ['5', '401', '-10', '1.5', 'lots'])
      assertConfigRefused({ ...env, HEAP_GROWTH_PERCENT: bad }, 'HEAP_GROWTH_PERCENT');
  });

  test('a low factor keeps the heap smaller under the same work than a high one', () => {
    const low = peakHeap(30);
    const high = peakHeap(300);
    assert.ok(low < high * 0.75, `peak heap ${low} bytes at 30 % against ${high} at 300 %`);
  });
});

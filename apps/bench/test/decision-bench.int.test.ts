// The decision benchmark still drives the real DecisionLanes as the gateway builds them: every decision it makes is
// approved (limits on or off, nothing refused) and every floor query succeeds. Rates are printed by `pnpm bench`,
// never asserted here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decisionBench } from '../src/decision-bench.ts';

test('decision bench: every scenario decides (auto-approved, nothing refused), floors included', async () => {
  const rows = await decisionBench(0.4, 8, 1);
  assert.deepEqual(
    rows.map((r) => r.name),
    [
      'floor: SELECT 1 round trip',
      'floor: bare INSERT of an intent row',
      'floor: audited commit (one audit record per transaction)',
      '1 hot agent, limits off',
      '1 hot agent, limits on',
      '64 agents, limits off',
      '64 agents, limits on',
      '64 agents, agent limits only',
    ],
  );
  for (const row of rows) {
    assert.equal(row.refused, 0, `${row.name}: refused ${row.refused}`);
    assert.ok(row.perSecond > 0, `${row.name}: nothing completed`);
  }
  for (const row of rows.slice(3))
    assert.ok(row.batch !== null && row.batch >= 1, `${row.name}: no decision transactions counted`);
});

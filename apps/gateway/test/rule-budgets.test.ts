// decision.money.budgets lists a policy rule's own limits (issue 12): an agent held by a rule's daily limit is told
// what remains in that window, not only the scope limits set with /admin/costs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicySet } from '@clawd402/policy';
import { ruleBudgets } from '../src/money/budgets.ts';

const POLICY = `
policies:
  - name: daily_capped
    conditions:
      transaction_type: transfer
      daily_limit_usd: "10"
      daily_count_limit: 5
      hourly_limit_usd: "4"
    action: auto_approve
  - name: someone_else
    conditions:
      agent: "00000000-0000-4000-8000-000000000002"
      daily_limit_usd: "1000"
    action: auto_approve
`;

const AGENT = '00000000-0000-4000-8000-000000000001';
const spend = (dayUsd: bigint, hourUsd: bigint, dayCount: number) => ({
  dayUsd,
  hourUsd,
  dayCount,
  hourCount: dayCount,
  dayFreesAt: new Date('2030-01-02T00:00:00.000Z'),
  hourFreesAt: null,
  breakerUsd: dayUsd,
});

describe('budgets from policy rules', { timeout: 60_000 }, () => {
  test("an agent held by a rule's daily limit sees that window with what remains", () => {
    const policy = loadPolicySet(POLICY);
    // 9.50 USD spent today, 3 intents; this intent was refused (reserved nothing).
    const budgets = ruleBudgets(policy, { agentId: AGENT }, spend(9_500_000n, 1_000_000n, 3), 0n);
    assert.deepEqual(budgets, [
      {
        scope: 'rule:daily_capped',
        window: '24h',
        limitUsd: '10',
        spentUsd: '9.5',
        remainingUsd: '0.5',
        freesAt: '2030-01-02T00:00:00.000Z',
        limitCount: 5,
        usedCount: 3,
        remainingCount: 2,
      },
      {
        scope: 'rule:daily_capped',
        window: '1h',
        limitUsd: '4',
        spentUsd: '1',
        remainingUsd: '3',
        freesAt: null,
      },
    ]);
  });

  test('what an approved intent reserved counts; a rule restricted to another agent is not listed', () => {
    const policy = loadPolicySet(POLICY);
    const budgets = ruleBudgets(policy, { agentId: AGENT }, spend(0n, 0n, 0), 2_000_000n);
    assert.deepEqual(
      budgets.map((b) => [b.scope, b.window, b.spentUsd, b.remainingUsd, b.usedCount]),
      [
        ['rule:daily_capped', '24h', '2', '8', 1],
        ['rule:daily_capped', '1h', '2', '2', undefined],
      ],
    );
  });
});

/**
 * Policy evaluations per CPU-second of one core: `evaluate()` on the seed policy (a mix of intents that take every
 * path: auto-approve, fall-through to the final deny, human approval, unverified contract, zero address) and on a
 * 200-rule set (worst case: the deciding rule is the 199th, or nothing matches and all 200 are tried), beside a floor
 * measured in the same run: a one-rule match-all set (the fixed cost of a decision). Pure CPU, one thread, no I/O.
 * Run alone with `pnpm --filter @clawd402/bench bench:policy` (BENCH_POLICY_MS: time per scenario, default 1500).
 */
import { readFileSync } from 'node:fs';
import { evaluate, loadPolicySet, type AvailableFacts, type PolicySet } from '@clawd402/policy';

/** The floor for the seed set: evaluations per second per core. */
export const SEED_TARGET_PER_SECOND = 20_000;

const USD = 1_000_000n;
const ALICE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const SEED = new URL('../../../packages/policy/examples/seed-policy.yaml', import.meta.url);

export interface PolicyBenchRow {
  name: string;
  perSecond: number;
  perCpuSecond: number;
  note: string;
}

function spend(dayUsd: bigint): AvailableFacts['spend'] {
  return { dayUsd: dayUsd * USD, hourUsd: 0n, dayCount: 3, hourCount: 1 };
}

function transfer(usd: bigint, spentToday: bigint, recipient: string = ALICE): AvailableFacts {
  return {
    type: 'transfer',
    chainId: 31337,
    recipient: recipient as `0x${string}`,
    asset: 'native',
    amount: 10n ** 16n,
    decimals: 18,
    valueUsd: usd * USD,
    priceStatus: 'ok',
    spend: spend(spentToday),
    agentId: 'agent-1',
    apiKeyId: 'key-1',
    now: Date.UTC(2024, 0, 1, 12),
  };
}

function twoHundredRules(): PolicySet {
  const rules = Array.from({ length: 199 }, (_, i) => ({
    name: `pay_${i}`,
    conditions: {
      transaction_type: 'transfer',
      recipient_whitelist: [`0x${(i + 1).toString(16).padStart(40, '0')}`],
      max_value_usd: 100 + i,
      daily_limit_usd: 1000,
    },
    action: 'auto_approve',
  }));
  return loadPolicySet(
    JSON.stringify({ policies: [...rules, { name: 'default_deny', conditions: {}, action: 'reject' }] }),
    { format: 'json' },
  );
}

/** Evaluate `inputs` round-robin for about `ms` of wall time; evaluations per wall-second and per CPU-second. */
function measure(
  name: string,
  set: PolicySet,
  inputs: readonly AvailableFacts[],
  ms: number,
  note: string,
): PolicyBenchRow {
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += evaluate(set, inputs[i % inputs.length]!).reasons.length; // warm up the JIT
  const batch = 2_000;
  let count = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) sink += evaluate(set, inputs[(count + i) % inputs.length]!).reasons.length;
    count += batch;
    elapsed = performance.now() - started;
  }
  const used = process.cpuUsage(cpu);
  if (sink === 0) throw new Error('no decisions'); // keeps the loop from being optimised away
  return { name, perSecond: count / (elapsed / 1000), perCpuSecond: count / ((used.user + used.system) / 1e6), note };
}

export function policyBench(ms = Number(process.env.BENCH_POLICY_MS ?? 1500)): PolicyBenchRow[] {
  const floor = loadPolicySet('policies:\n  - name: all\n    conditions: {}\n    action: reject\n');
  const seed = loadPolicySet(readFileSync(SEED, 'utf8'));
  const seedInputs: AvailableFacts[] = [
    transfer(50n, 450n), // auto_approve_small_transfers
    transfer(50n, 460n), // falls through to default_deny
    transfer(150n, 0n), // require_human_approval
    { ...transfer(10n, 0n), type: 'contract_call', contractVerified: false, selector: '0xa9059cbb' }, // unverified
    transfer(1n, 0n, '0x0000000000000000000000000000000000000000'), // zero address
  ];
  const large = twoHundredRules();
  const lastRule = transfer(50n, 0n, `0x${(199).toString(16).padStart(40, '0')}`); // decided by pay_198
  const noMatch = transfer(50n, 0n, '0x00000000000000000000000000000000000f4240'); // all 200 rules tried
  return [
    measure('floor: one match-all rule', floor, [transfer(1n, 0n)], ms, 'fixed cost of a decision object'),
    measure('seed policy (5 rules), 5 intents round-robin', seed, seedInputs, ms, 'every path of the seed set'),
    measure('200 rules, decided by rule 199', large, [lastRule], ms, '199 rules tried'),
    measure('200 rules, nothing matches but the final deny', large, [noMatch], ms, '200 rules tried'),
  ];
}

export function printPolicyRows(rows: readonly PolicyBenchRow[]): void {
  const floor = rows[0]!;
  console.log('\n| policy evaluation | per second (wall) | per CPU-second | ÷ floor | ÷ 20,000/s target | note |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const row of rows) {
    console.log(
      `| ${row.name} | ${row.perSecond.toFixed(0)} | ${row.perCpuSecond.toFixed(0)} | ${(row.perCpuSecond / floor.perCpuSecond).toFixed(3)} | ${(row.perCpuSecond / SEED_TARGET_PER_SECOND).toFixed(1)} | ${row.note} |`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printPolicyRows(policyBench());
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Address } from 'viem';
import { evaluate, lintPolicySet, loadPolicySet, type AvailableFacts } from '../src/index.ts';
import { spend, USD, usdFacts } from './fixtures.ts';

/** A deterministic address for index i (all-lowercase, so no checksum to compute). */
const addr = (i: number): Address => `0x${(i + 1).toString(16).padStart(40, '0')}`;

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('200-rule sets', () => {
  const rules = Array.from({ length: 199 }, (_, i) => ({
    name: `pay_${i}`,
    conditions: {
      transaction_type: 'transfer',
      recipient_whitelist: [addr(i)],
      max_value_usd: 100 + i,
      daily_limit_usd: 1000,
    },
    action: i % 2 === 0 ? 'auto_approve' : 'require_human_approval',
    ...(i % 2 === 0 ? {} : { notification: { channels: ['email'], timeout: 600 } }),
  }));
  const document = { policies: [...rules, { name: 'default_deny', conditions: {}, action: 'reject' }] };
  const set = loadPolicySet(JSON.stringify(document), { format: 'json' });

  it('loads 200 rules; the linter finds no errors', () => {
    assert.equal(set.rules.length, 200);
    assert.deepEqual(lintPolicySet(set, { configuredChannels: ['email'], production: true }).errors, []);
  });

  it('each recipient is decided by its own rule, the last one included', () => {
    for (let i = 0; i < 199; i++) {
      const decision = evaluate(set, usdFacts(100n, spend(0n), { recipient: addr(i) }));
      assert.equal(decision.policy, `pay_${i}`);
      assert.equal(decision.action, i % 2 === 0 ? 'auto_approve' : 'require_human_approval');
    }
    assert.equal(evaluate(set, usdFacts(1n, spend(0n), { recipient: addr(500) })).policy, 'default_deny');
  });

  it('limits are per rule: one micro-USD over rule 150’s maximum falls through to the final deny', () => {
    const recipient = addr(150);
    assert.equal(evaluate(set, { ...usdFacts(0n, spend(0n), { recipient }), valueUsd: 250n * USD }).policy, 'pay_150');
    assert.equal(
      evaluate(set, { ...usdFacts(0n, spend(0n), { recipient }), valueUsd: 250n * USD + 1n }).policy,
      'default_deny',
    );
    assert.equal(evaluate(set, usdFacts(10n, spend(991n), { recipient })).policy, 'default_deny');
  });

  it('an unknown fact at rule 150 stops evaluation there; later rules never decide', () => {
    const decision = evaluate(set, { ...usdFacts(1n, undefined, { recipient: addr(150) }), spend: undefined });
    assert.equal(decision.action, 'reject');
    assert.equal(decision.policy, 'pay_150');
    assert.deepEqual(
      decision.reasons.map((r) => r.code),
      ['policy.condition_unknown_fact'],
    );
  });

  it('agrees with a naive three-valued reference evaluator on random sets and intents', () => {
    const random = prng(402);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const pool = Array.from({ length: 12 }, (_, i) => addr(i));
    type Written = {
      chain?: number[];
      transaction_type?: string;
      recipient_whitelist?: string[];
      max_value_usd?: number;
      min_value_usd?: number;
    };
    const written: { name: string; conditions: Written; action: string }[] = [];
    for (let r = 0; r < 200; r++) {
      const conditions: Written = {};
      if (random() < 0.5) conditions.chain = [pick([1, 10, 8453]), pick([1, 31337])];
      if (random() < 0.5) conditions.transaction_type = pick(['transfer', 'contract_call']);
      if (random() < 0.5) conditions.recipient_whitelist = [pick(pool), pick(pool)];
      if (random() < 0.4) conditions.max_value_usd = Math.floor(random() * 500);
      if (random() < 0.3) conditions.min_value_usd = Math.floor(random() * 500);
      written.push({ name: `r${r}`, conditions, action: pick(['auto_approve', 'reject']) });
    }
    const randomSet = loadPolicySet(JSON.stringify({ policies: written }), { format: 'json' });

    const reference = (f: AvailableFacts): [string | null, string] => {
      for (const rule of written) {
        const results: (boolean | 'unknown')[] = [];
        const c = rule.conditions;
        if (c.chain) results.push(f.chainId === undefined ? 'unknown' : c.chain.includes(f.chainId));
        if (c.transaction_type) results.push(f.type === undefined ? 'unknown' : c.transaction_type === f.type);
        if (c.recipient_whitelist)
          results.push(
            f.recipient === undefined ? 'unknown' : c.recipient_whitelist.includes(f.recipient.toLowerCase()),
          );
        const usd = f.valueUsd;
        if (c.max_value_usd !== undefined)
          results.push(usd === undefined ? 'unknown' : usd <= BigInt(c.max_value_usd) * USD);
        if (c.min_value_usd !== undefined)
          results.push(usd === undefined ? 'unknown' : usd >= BigInt(c.min_value_usd) * USD);
        if (results.includes(false)) continue;
        if (results.includes('unknown')) return [rule.name, 'reject'];
        return [rule.name, rule.action];
      }
      return [null, 'reject'];
    };

    for (let n = 0; n < 3000; n++) {
      const f: Record<string, unknown> = {
        type: pick(['transfer', 'contract_call', 'approve']),
        chainId: pick([1, 10, 8453, 31337]),
        recipient: pick(pool),
        valueUsd: BigInt(Math.floor(random() * 600)) * USD + BigInt(pick([0, 0, 1, 999_999])),
      };
      for (const key of Object.keys(f)) if (random() < 0.05) delete f[key];
      const decision = evaluate(randomSet, f);
      assert.deepEqual(
        [decision.policy, decision.action],
        reference(f as AvailableFacts),
        JSON.stringify(f, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      );
    }
  });
});

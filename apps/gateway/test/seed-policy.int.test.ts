import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeFunctionData, erc20Abi } from 'viem';
import { callJson, postIntent } from './support/stack.ts';
import { stackWithToken } from './support/suite.ts';

/** The seed policy from the issue, byte for byte (packages/policy/examples/seed-policy.yaml). */
const SEED = readFileSync(new URL('../../../packages/policy/examples/seed-policy.yaml', import.meta.url), 'utf8');
const WHITELISTED = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'; // anvil dev account 1 (public test key)

describe('the seed policy decides as written on the gateway (ETH at 2,000 USD)', () => {
  const ctx = stackWithToken({ policy: SEED });

  const transfer = (to: string, amount: string) =>
    postIntent(ctx.stack.baseUrl, ctx.token, { type: 'transfer', chainId: 31337, to, asset: 'native', amount });

  test('small whitelisted transfers auto-approve until the rolling daily 500 USD (fees included) is used up', async () => {
    let spentMicros = 0n;
    let approved = 0;
    for (;;) {
      const res = await transfer(WHITELISTED, '0.025'); // 50 USD
      if (res.status !== 201) {
        // Falls through auto_approve_small_transfers (50 + spent > 500) and approve_large_operations (50 < 100).
        assert.equal(res.status, 403, JSON.stringify(res.body));
        assert.equal(res.body.intent.decision.policy, 'default_deny');
        assert.ok(spentMicros + 50_000_000n > 500_000_000n, `refused with ${spentMicros} spent`);
        break;
      }
      assert.equal(res.body.decision.policy, 'auto_approve_small_transfers');
      spentMicros += BigInt(Math.round(Number(res.body.decision.money.reservedUsd) * 1e6));
      assert.ok(spentMicros <= 500_000_000n);
      approved += 1;
      assert.ok(approved <= 10);
    }
    assert.equal(approved, 9, 'nine 50 USD transfers plus their fees fit in 500 USD; a tenth does not');
  });

  test('a transfer over 100 USD needs a human, notified on email and slack with a 1,800 s timeout', async () => {
    const res = await transfer(WHITELISTED, '0.075'); // 150 USD
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.decision.policy, 'approve_large_operations');
    assert.deepEqual(res.body.decision.approval.notification, { channels: ['email', 'slack'], timeoutSeconds: 1800 });
    const approval = await ctx.stack.pool.query(
      `SELECT channels, expires_at - created_at AS wait FROM approvals WHERE intent_id = $1`,
      [res.body.id],
    );
    assert.deepEqual(approval.rows[0].channels, ['email', 'slack']);
    assert.equal(approval.rows[0].wait.minutes, 30);
  });

  test('a call to an unverified contract is rejected by block_unverified_contracts; a verified one is not', async () => {
    const target = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
    const data = encodeFunctionData({ abi: erc20Abi, functionName: 'balanceOf', args: [WHITELISTED] });
    // The same call, sent before and after the contract is verified.
    const call = { type: 'contract_call', chainId: 31337, to: target, data };
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, call);
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.intent.decision.policy, 'block_unverified_contracts');

    const owner = await ctx.stack.loginAs('owner');
    const verified = await callJson(ctx.stack.baseUrl, owner, 'PUT', `/admin/contracts/31337/${target}`, {
      label: 'test target',
    });
    assert.equal(verified.status, 204);
    const again = await postIntent(ctx.stack.baseUrl, ctx.token, call);
    // Verified, it passes block_unverified_contracts; worth 0 USD, it is under approve_large_operations' 100 USD
    // minimum, so the final default_deny decides.
    assert.equal(again.status, 403, JSON.stringify(again.body));
    assert.equal(again.body.intent.decision.policy, 'default_deny');
  });
});

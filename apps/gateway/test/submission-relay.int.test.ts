// MEV protection (docs/submission.md): above PRIVATE_RELAY_MIN_VALUE_USD an intent's transactions go to the chain's
// private relay — here a second anvil with the same chain id stands in for it — and never to the public mempool;
// its speed-ups and cancellation take the same route. Both chains have automine off, so transactions stay pending.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEther, toHex, type Hex } from 'viem';
import { startAnvil, type Anvil } from '@clawd402/testkit';
import { RECIPIENTS, callJson, startStack, type Stack } from './support/stack.ts';
import { postNativeTransfer } from './support/suite.ts';
import { poolOf, rpc } from './support/submission.ts';

describe('intents above the MEV threshold go to the private relay, with their replacements', () => {
  let stack: Stack;
  let relay: Anvil;
  let token: string;
  let high: { id: string; txHash: Hex };
  before(async () => {
    relay = await startAnvil({ noMining: true });
    stack = await startStack({
      tracker: false,
      env: {
        PRIVATE_RELAY_URLS: `31337=${relay.rpcUrl}`,
        PRIVATE_RELAY_MIN_VALUE_USD: '1000',
        SUBMISSION_STUCK_AFTER_SECONDS: '3600',
      },
    });
    await rpc(stack.anvil.rpcUrl, 'evm_setAutomine', [false]);
    await rpc(relay.rpcUrl, 'anvil_setBalance', [stack.signerAddress, toHex(parseEther('1000'))]);
    token = await stack.token();
  });
  after(async () => {
    await stack?.stop();
    await relay?.stop();
  });

  const publicPool = () => poolOf(stack.anvil.rpcUrl, stack.signerAddress);
  const relayPool = () => poolOf(relay.rpcUrl, stack.signerAddress);
  const routeOf = async (id: string) =>
    (await stack.pool.query('SELECT submit_route FROM intents WHERE id = $1', [id])).rows[0].submit_route;

  test('a 2,000 USD transfer is sent only to the relay; a 20 USD one only to the public mempool', async () => {
    const res = await postNativeTransfer(stack.baseUrl, token, RECIPIENTS[0]!, '1');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'submitted');
    high = { id: res.body.id, txHash: res.body.txHash };
    assert.equal((await relayPool()).get(0)?.hash, high.txHash, 'the relay holds it');
    assert.ok(
      ![...(await publicPool()).values()].some((t) => t.hash === high.txHash),
      'the public mempool never saw it',
    );
    assert.equal(await routeOf(high.id), 'private');
    const audit = await stack.pool.query(
      `SELECT record FROM audit_log WHERE subject = $1 AND action = 'intent.submitted'`,
      [`intent:${high.id}`],
    );
    assert.equal(JSON.parse(audit.rows[0].record).data.route, 'private');

    const low = await postNativeTransfer(stack.baseUrl, token, RECIPIENTS[1]!, '0.01');
    assert.equal(low.status, 201, JSON.stringify(low.body));
    assert.equal(low.body.nonce, 1);
    assert.equal((await publicPool()).get(1)?.hash, low.body.txHash, 'the public mempool holds it');
    assert.ok(![...(await relayPool()).values()].some((t) => t.hash === low.body.txHash), 'the relay never saw it');
    assert.equal(await routeOf(low.body.id), 'public');
  });

  test("an operator's speed-up and the agent's cancellation of the private transaction go to the relay and replace it at its nonce", async () => {
    const original = (await relayPool()).get(0)!;
    const operator = await stack.loginAs('operator');
    const sped = await callJson(stack.baseUrl, operator, 'POST', `/admin/intents/${high.id}/speed-up`);
    assert.equal(sped.status, 202, JSON.stringify(sped.body));
    assert.equal(sped.body.route, 'private');
    assert.deepEqual(
      sped.body.transactions.map((t: { kind: string; route: string }) => [t.kind, t.route]),
      [
        ['speedup', 'private'],
        ['original', 'private'],
      ],
    );
    const fast = (await relayPool()).get(0)!;
    assert.equal(fast.hash, sped.body.intent.txHash, 'the speed-up replaced the original in the relay');
    assert.ok(
      fast.maxFeePerGas * 100n >= original.maxFeePerGas * 110n &&
        fast.maxPriorityFeePerGas * 100n >= original.maxPriorityFeePerGas * 110n,
    );

    const cancel = await callJson(stack.baseUrl, token, 'POST', `/v1/intents/${high.id}/cancel`);
    assert.equal(cancel.status, 202, JSON.stringify(cancel.body));
    assert.equal(cancel.body.status, 'submitted');
    const pending = (await relayPool()).get(0)!;
    assert.equal(pending.hash, cancel.body.txHash);
    assert.equal(pending.to.toLowerCase(), stack.signerAddress.toLowerCase(), 'a transfer to the key itself');
    assert.equal(pending.value, 0n);
    assert.ok(
      pending.maxFeePerGas * 100n >= fast.maxFeePerGas * 110n &&
        pending.maxPriorityFeePerGas * 100n >= fast.maxPriorityFeePerGas * 110n,
    );
    const publicHashes = [...(await publicPool()).values()].map((t) => t.hash);
    for (const hash of [fast.hash, pending.hash])
      assert.ok(!publicHashes.includes(hash), 'no replacement reached the public mempool');

    await rpc(relay.rpcUrl, 'evm_mine');
    const receipt = await rpc<{ status: string; to: string }>(relay.rpcUrl, 'eth_getTransactionReceipt', [
      pending.hash,
    ]);
    assert.equal(receipt.status, '0x1');
    assert.equal(receipt.to.toLowerCase(), stack.signerAddress.toLowerCase());
    assert.equal(
      BigInt(await rpc<string>(relay.rpcUrl, 'eth_getBalance', [RECIPIENTS[0], 'latest'])),
      parseEther('10000'),
      'nothing reached the recipient',
    );

    const routes = await stack.pool.query(
      `SELECT kind, route FROM intent_transactions WHERE intent_id = $1 ORDER BY created_at`,
      [high.id],
    );
    assert.deepEqual(routes.rows, [
      { kind: 'original', route: 'private' },
      { kind: 'speedup', route: 'private' },
      { kind: 'cancel', route: 'private' },
    ]);
    const audit = await stack.pool.query(`SELECT actor, action FROM audit_log WHERE subject = $1 ORDER BY seq`, [
      `intent:${high.id}`,
    ]);
    const actions = audit.rows.map((r: { actor: string; action: string }) => `${r.actor.split(':')[0]} ${r.action}`);
    assert.ok(
      actions.includes('user intent.speedup_signed') && actions.includes('agent intent.cancel_signed'),
      actions.join(', '),
    );
  });
});

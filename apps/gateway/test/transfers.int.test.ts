import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { erc20Abi, getAddress, parseEther, parseUnits, type Address } from 'viem';
import { ANVIL_ACCOUNTS } from '@clawd402/testkit';
import { RECIPIENTS, count, getJson, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';
import { postNativeTransfer } from './support/suite.ts';
import { deployTestUsd, fundSigner, registerTestUsd } from './support/test-usd.ts';

describe('transfers reach the chain', () => {
  let stack: Stack;
  let token: string;
  let erc20: Address;

  before(async () => {
    stack = await startStack();
    token = await stack.token();
    // An ERC-20 with 6 decimals, deployed from a compiled OpenZeppelin artifact; the signer key gets 1,000 of it.
    const deployerKey = ANVIL_ACCOUNTS[0].privateKey as `0x${string}`;
    erc20 = await deployTestUsd(stack, deployerKey, '1000000');
    await fundSigner(stack, deployerKey, [[erc20, parseUnits('1000', 6)]]);
    // Every intent is valued in USD: the token gets a registry entry (1 USD, static) like an operator would add.
    await registerTestUsd(stack, erc20);
  });
  after(async () => stack?.stop());

  test('a native ETH transfer is signed, submitted and confirmed, and the receipt is on anvil', async () => {
    const recipient = RECIPIENTS[0]!;
    const before = await stack.chain.getBalance({ address: recipient });
    const res = await postNativeTransfer(stack.baseUrl, token, recipient, '1.5', { memo: 'rent' });
    assert.equal(res.status, 201);
    assert.equal(res.body.status, 'submitted');
    assert.equal(res.body.decision.action, 'auto_approve');
    assert.equal(res.body.decision.policy, 'small_transfers_to_dev_accounts');
    assert.equal(res.body.from, stack.signerAddress);
    assert.equal(res.body.amount, '1.5');
    assert.match(res.body.txHash, /^0x[0-9a-f]{64}$/);

    const settled = await waitForStatus(stack.baseUrl, token, res.body.id, ['confirmed', 'failed']);
    assert.equal(settled.status, 'confirmed');
    const receipt = await stack.chain.getTransactionReceipt({ hash: res.body.txHash });
    assert.equal(receipt.status, 'success');
    assert.equal(receipt.from.toLowerCase(), stack.signerAddress.toLowerCase());
    assert.equal((await stack.chain.getBalance({ address: recipient })) - before, parseEther('1.5'));
  });

  test('an ERC-20 transfer moves exactly the token amount to the recipient', async () => {
    const recipient = RECIPIENTS[1]!;
    const res = await postIntent(stack.baseUrl, token, {
      type: 'transfer',
      chainId: 31337,
      to: recipient,
      asset: erc20,
      amount: '12.345678',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.asset, getAddress(erc20));
    assert.equal(res.body.amount, '12.345678');
    const settled = await waitForStatus(stack.baseUrl, token, res.body.id, ['confirmed', 'failed']);
    assert.equal(settled.status, 'confirmed');
    const receipt = await stack.chain.getTransactionReceipt({ hash: res.body.txHash });
    assert.equal(receipt.status, 'success');
    assert.equal(receipt.to?.toLowerCase(), erc20.toLowerCase());
    const balance = await stack.chain.readContract({
      address: erc20,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [recipient],
    });
    assert.equal(balance, parseUnits('12.345678', 6));
  });

  test('an Idempotency-Key retry returns the same intent and signs nothing new; another body with it is refused', async () => {
    const body = { type: 'transfer', chainId: 31337, to: RECIPIENTS[2]!, asset: 'native', amount: '0.25' };
    const first = await postIntent(stack.baseUrl, token, body, { 'idempotency-key': 'order-42' });
    assert.equal(first.status, 201);
    const second = await postIntent(stack.baseUrl, token, body, { 'idempotency-key': 'order-42' });
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(second.body.id, first.body.id);
    assert.equal(second.body.txHash, first.body.txHash);
    assert.equal(
      await count(stack.pool, 'SELECT count(*)::int AS n FROM intents WHERE idempotency_key = $1', ['order-42']),
      1,
    );

    const other = await postIntent(
      stack.baseUrl,
      token,
      { ...body, amount: '0.26' },
      { 'idempotency-key': 'order-42' },
    );
    assert.equal(other.status, 422);
    assert.equal(other.body.code, 'idempotency_key_reused');
  });

  test('concurrent retries with one Idempotency-Key create one intent and one transaction', async () => {
    const body = { type: 'transfer', chainId: 31337, to: RECIPIENTS[3]!, asset: 'native', amount: '0.01' };
    const results = await Promise.all(
      Array.from({ length: 8 }, () => postIntent(stack.baseUrl, token, body, { 'idempotency-key': 'burst-1' })),
    );
    const ids = new Set(results.map((r) => r.body.id));
    assert.equal(ids.size, 1);
    assert.equal(results.filter((r) => r.status === 201).length, 1);
    assert.equal(
      await count(
        stack.pool,
        "SELECT count(*)::int AS n FROM audit_log WHERE action = 'intent.signed' AND subject = $1",
        [`intent:${[...ids][0]}`],
      ),
      1,
    );
  });

  test('GET /v1/intents/:id and the paginated list show an agent only its own intents', async () => {
    const mine = await postNativeTransfer(stack.baseUrl, token, RECIPIENTS[4]!, '0.001');
    const other = await stack.newAgent();
    const otherToken = await stack.token(other.apiKey);

    const own = await getJson(`${stack.baseUrl}/v1/intents/${mine.body.id}`, token);
    assert.equal(own.status, 200);
    assert.equal(own.body.id, mine.body.id);
    const foreign = await getJson(`${stack.baseUrl}/v1/intents/${mine.body.id}`, otherToken);
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.code, 'not_found');
    const garbage = await getJson(`${stack.baseUrl}/v1/intents/not-a-uuid`, token);
    assert.equal(garbage.status, 404);

    const otherList = await getJson(`${stack.baseUrl}/v1/intents`, otherToken);
    assert.deepEqual(otherList.body, { items: [], nextCursor: null });

    // Walk every page two at a time: each intent once, newest first, and the pages add up to the total.
    const { rows } = await stack.pool.query(
      'SELECT id FROM intents WHERE agent_id = $1 ORDER BY created_at DESC, id DESC',
      [stack.agent.agentId],
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await getJson(
        `${stack.baseUrl}/v1/intents?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        token,
      );
      seen.push(...page.body.items.map((i) => i.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(
      seen,
      rows.map((r) => r.id),
    );

    const confirmed = await getJson(`${stack.baseUrl}/v1/intents?status=confirmed&limit=100`, token);
    assert.ok(confirmed.body.items.length >= 2);
    assert.ok(confirmed.body.items.every((i: { status: string }) => i.status === 'confirmed'));
    const badCursor = await getJson(`${stack.baseUrl}/v1/intents?cursor=bm9wZQ`, token);
    assert.equal(badCursor.status, 400);
    assert.equal(badCursor.body.code, 'invalid_cursor');
  });
});

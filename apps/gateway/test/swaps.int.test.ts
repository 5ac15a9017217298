import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createWalletClient,
  encodeFunctionData,
  erc20Abi,
  getAddress,
  http,
  parseAbi,
  parseEther,
  parseUnits,
  type Address,
  type Hex,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ANVIL_ACCOUNTS, devClients, deployTestToken, uniswapV2Artifact, writeAndConfirm } from '@clawd402/testkit';
import { postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';
import { rpc } from './support/submission.ts';
import { UNISWAP, UNISWAP_DEPLOYER, UNISWAP_ENV, setUpUniswap } from './support/uniswap.ts';

// Anvil's public, well-known dev account 7 (never real funds) trades; support/uniswap.ts deploys the pool.
const TRADER = ANVIL_ACCOUNTS[7];

// ETH is 2,000 USD (the development default), TUSD 1 USD: swaps up to 500 USD go through, up to 5,000 USD need a
// human; approvals of the router are fine when bounded.
const POLICY = `
policies:
  - name: small_swaps
    conditions: { transaction_type: swap, max_value_usd: 500 }
    action: auto_approve
  - name: larger_swaps_need_a_human
    conditions: { transaction_type: swap, max_value_usd: 5000 }
    action: require_human_approval
    notification: { channels: [ops], timeout: 600 }
  - name: bounded_router_approvals
    conditions: { transaction_type: approve, spender_whitelist: ["${UNISWAP.router}"], unlimited_approval: false }
    action: auto_approve
  - name: default_deny
    conditions: {}
    action: reject
`;

describe('swaps through a Uniswap V2 router', () => {
  let stack: Stack;
  let token: string;
  let tusd: Address;
  const now = (): number => Math.floor(Date.now() / 1000);
  const swap = (fields: Record<string, unknown>) =>
    postIntent(stack.baseUrl, token, {
      type: 'swap',
      chainId: 31337,
      maxSlippagePercent: '0.5',
      deadline: now() + 600,
      ...fields,
    });
  const tusdOf = (address: Address) =>
    stack.chain.readContract({ address: tusd, abi: erc20Abi, functionName: 'balanceOf', args: [address] });
  const nonceOfSigner = () => stack.chain.getTransactionCount({ address: stack.signerAddress });

  before(async () => {
    stack = await startStack({ policy: POLICY, env: UNISWAP_ENV });
    token = await stack.token();
    tusd = await setUpUniswap(stack);
  });
  after(async () => stack?.stop());

  test('a swap of 0.1 ETH within 0.5 % slippage is quoted, simulated, signed and executed', async () => {
    const before = await tusdOf(stack.signerAddress);
    const res = await swap({ inputAsset: 'native', inputAmount: '0.1', outputAsset: tusd });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.type, 'swap');
    assert.equal(res.body.status, 'submitted');
    assert.equal(res.body.decision.policy, 'small_swaps');
    assert.equal(res.body.to, UNISWAP.router);
    assert.equal(res.body.asset, 'native');
    assert.equal(res.body.amount, '0.1');
    // The value counted against budgets is the input: 0.1 ETH at 2,000 USD.
    assert.equal(res.body.decision.money.valueUsd, '200');
    const plan = res.body.swap;
    assert.deepEqual(plan.path, [UNISWAP.weth, getAddress(tusd)]);
    assert.equal(plan.referenceOutput, '200');
    // 0.3 % pool fee and a little price impact: the quote is within the bound; the minimum is 0.5 % under the reference.
    assert.ok(Number(plan.quotedOutput) > 199 && Number(plan.quotedOutput) < 200, plan.quotedOutput);
    assert.equal(plan.minOutput, '199');
    assert.equal(res.body.simulation.status, 'passed');
    assert.deepEqual(res.body.simulation.outflows, [
      { asset: 'native', amount: parseEther('0.1').toString(), counterparty: UNISWAP.router },
    ]);
    assert.equal(res.body.simulation.inflows.length, 1);
    assert.equal(res.body.simulation.inflows[0].asset, getAddress(tusd));

    const settled = await waitForStatus(stack.baseUrl, token, res.body.id, ['confirmed', 'failed']);
    assert.equal(settled.status, 'confirmed', JSON.stringify(settled));
    assert.deepEqual(settled.swap, plan);
    const received = (await tusdOf(stack.signerAddress)) - before;
    assert.ok(received >= parseUnits('199', 6), `received ${received}`);
  });

  test("a swap from an ERC-20 without the router's allowance is refused with allowance_missing; after an approve intent it executes", async () => {
    const nonce = await nonceOfSigner();
    const refused = await swap({ inputAsset: tusd, inputAmount: '100', outputAsset: 'native' });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'allowance_missing');
    assert.equal(refused.body.details.spender, UNISWAP.router);
    assert.equal(refused.body.details.required, parseUnits('100', 6).toString());
    assert.equal(await nonceOfSigner(), nonce);

    // The agent approves exactly what it will sell: a contract call the policy decides as an approval.
    const approve = await postIntent(stack.baseUrl, token, {
      type: 'contract_call',
      chainId: 31337,
      to: tusd,
      data: encodeFunctionData({
        abi: erc20Abi,
        functionName: 'approve',
        args: [UNISWAP.router, parseUnits('100', 6)],
      }),
    });
    assert.equal(approve.status, 201, JSON.stringify(approve.body));
    assert.equal(approve.body.decision.policy, 'bounded_router_approvals');
    assert.deepEqual(approve.body.simulation.approvals, [
      { asset: getAddress(tusd), spender: UNISWAP.router, amount: parseUnits('100', 6).toString(), unlimited: false },
    ]);
    assert.equal(
      (await waitForStatus(stack.baseUrl, token, approve.body.id, ['confirmed', 'failed'])).status,
      'confirmed',
    );

    const ethBefore = await stack.chain.getBalance({ address: stack.signerAddress });
    const res = await swap({ inputAsset: tusd, inputAmount: '100', outputAsset: 'native' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.decision.money.valueUsd, '100');
    assert.equal(res.body.swap.referenceOutput, '0.05');
    const settled = await waitForStatus(stack.baseUrl, token, res.body.id, ['confirmed', 'failed']);
    assert.equal(settled.status, 'confirmed', JSON.stringify(settled));
    // At least the minimum output arrived (less the fee the signer paid for the swap itself).
    const receipt = await stack.chain.getTransactionReceipt({ hash: res.body.txHash });
    const gained =
      (await stack.chain.getBalance({ address: stack.signerAddress })) -
      ethBefore +
      receipt.gasUsed * receipt.effectiveGasPrice;
    assert.ok(gained >= parseEther(res.body.swap.minOutput), `gained ${gained}`);
  });

  test('a swap whose deadline has passed is refused with deadline_passed and never signed', async () => {
    const nonce = await nonceOfSigner();
    const res = await swap({ inputAsset: 'native', inputAmount: '0.1', outputAsset: tusd, deadline: now() - 1 });
    assert.equal(res.status, 422);
    assert.equal(res.body.code, 'deadline_passed');
    assert.equal(await nonceOfSigner(), nonce);
  });

  test('a swap that waits for a human past its deadline expires and is never signed', async () => {
    // 1 ETH = 2,000 USD: above the automatic limit, so it waits for an approval that does not come in time.
    const res = await swap({ inputAsset: 'native', inputAmount: '1', outputAsset: tusd, deadline: now() + 3 });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.status, 'pending_approval');
    const expired = await waitForStatus(stack.baseUrl, token, res.body.id, [
      'expired',
      'confirmed',
      'failed',
      'submitted',
      'signed',
    ]);
    assert.equal(expired.status, 'expired');
    assert.equal(expired.error.code, 'deadline_passed');
    assert.equal(expired.txHash, null);
    assert.equal(expired.nonce, null);
    const approval = await stack.pool.query('SELECT status FROM approvals WHERE intent_id = $1', [res.body.id]);
    assert.equal(approval.rows[0]?.status, 'expired');
  });

  test('a swap mined a block after its gas estimate, when the pair updates its price accumulators, does not run out of gas', async () => {
    // Regression (CI, 2026-12-03): eth_estimateGas runs on the pending block, which on anvil (and any chain within one
    // block) can share the timestamp of the block that last updated the pair, so the estimate leaves out the price
    // accumulators. Mined later, the swap updates them; with a gas limit of the simulated gas plus a fifth it ran out
    // of gas and reverted: the simulation reports gas after refunds, and a swap's refunds come near the cap of a fifth.
    const pair = await stack.chain.readContract({
      address: UNISWAP.factory,
      abi: parseAbi(['function getPair(address, address) view returns (address)']),
      functionName: 'getPair',
      args: [UNISWAP.weth, tusd],
    });
    const trader = createWalletClient({
      account: privateKeyToAccount(TRADER.privateKey as Hex),
      transport: http(stack.anvil.rpcUrl),
    });
    const synced = await trader.writeContract({
      address: pair,
      abi: parseAbi(['function sync()']),
      functionName: 'sync',
      chain: null,
    });
    const { blockNumber } = await stack.chain.waitForTransactionReceipt({ hash: synced });
    const { timestamp } = await stack.chain.getBlock({ blockNumber });
    // The pending block keeps the latest block's timestamp (the pair's last update); nothing is mined until asked.
    await rpc(stack.anvil.rpcUrl, 'evm_setAutomine', [false]);
    await rpc(stack.anvil.rpcUrl, 'anvil_setBlockTimestampInterval', [0]);
    try {
      const res = await swap({ inputAsset: 'native', inputAmount: '0.1', outputAsset: tusd });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      await rpc(stack.anvil.rpcUrl, 'evm_mine', [Number(timestamp) + 1]);
      const settled = await waitForStatus(stack.baseUrl, token, res.body.id, ['confirmed', 'failed']);
      const receipt = await stack.chain.getTransactionReceipt({ hash: res.body.txHash });
      assert.equal(settled.status, 'confirmed', JSON.stringify({ settled, gasUsed: receipt.gasUsed.toString() }));
      // The simulation ran as the next block, accumulators and all: it foresaw what the swap was charged.
      assert.equal(receipt.gasUsed.toString(), res.body.simulation.gasUsed);
    } finally {
      await rpc(stack.anvil.rpcUrl, 'anvil_removeBlockTimestampInterval', []);
      await rpc(stack.anvil.rpcUrl, 'evm_setAutomine', [true]);
    }
  });

  test('after another account moves the pool price beyond the bound, the same swap is denied at simulation', async () => {
    // Anvil account 7 sells 300 ETH into the pool: TUSD now trades far below the registry's 2,000 per ETH. With gas
    // headroom: the estimate, made in the pool's last second, leaves out the price accumulators the pair updates when
    // the block is mined a second later (the test above).
    const { abi } = uniswapV2Artifact('UniswapV2Router02');
    await writeAndConfirm(
      await devClients(stack.anvil.rpcUrl, TRADER.privateKey),
      {
        address: UNISWAP.router,
        abi,
        functionName: 'swapExactETHForTokens',
        args: [0n, [UNISWAP.weth, tusd], TRADER.address, BigInt(now() + 600)],
        value: parseEther('300'),
      },
      "the trader's swap",
    );

    const nonce = await nonceOfSigner();
    const count = await stack.pool.query('SELECT count(*)::int AS n FROM intents');
    const res = await swap({ inputAsset: 'native', inputAmount: '0.1', outputAsset: tusd });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'swap_slippage_exceeded');
    assert.equal(res.body.details.reason, 'UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT');
    assert.equal(res.body.details.referenceOutput, '200');
    assert.equal(res.body.details.minOutput, '199');
    assert.ok(Number(res.body.details.quotedOutput) < 199, res.body.details.quotedOutput);
    // Nothing recorded, nothing signed.
    assert.equal(await nonceOfSigner(), nonce);
    assert.equal((await stack.pool.query('SELECT count(*)::int AS n FROM intents')).rows[0].n, count.rows[0].n);
  });

  test('malformed swap fields and a pair without a pool are refused with their codes', async () => {
    const slippage = await swap({
      inputAsset: 'native',
      inputAmount: '0.1',
      outputAsset: tusd,
      maxSlippagePercent: '0.555',
    });
    assert.deepEqual(
      [slippage.status, slippage.body.code, slippage.body.details.field],
      [400, 'invalid_request', 'maxSlippagePercent'],
    );
    const same = await swap({ inputAsset: 'native', inputAmount: '0.1', outputAsset: 'native' });
    assert.deepEqual([same.status, same.body.code, same.body.details.field], [400, 'invalid_request', 'outputAsset']);
    const far = await swap({
      inputAsset: 'native',
      inputAmount: '0.1',
      outputAsset: tusd,
      deadline: now() + 30 * 24 * 3600,
    });
    assert.deepEqual([far.status, far.body.code, far.body.details.field], [400, 'invalid_request', 'deadline']);
    const lonely = await deployTestToken({
      rpcUrl: stack.anvil.rpcUrl,
      deployerKey: UNISWAP_DEPLOYER.privateKey,
      name: 'No Pool',
      symbol: 'NOP',
      decimals: 18,
      supply: 1n,
    });
    const noPool = await swap({ inputAsset: 'native', inputAmount: '0.1', outputAsset: lonely });
    assert.deepEqual([noPool.status, noPool.body.code], [422, 'swap_no_route']);
  });
});

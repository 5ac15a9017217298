import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createPublicClient,
  encodeFunctionData,
  erc20Abi,
  getAddress,
  http,
  parseAbi,
  parseEther,
  parseUnits,
  toHex,
  type Address,
  type Hex,
} from 'viem';
import { anvilRpc, deployPermitToken, uniswapV2Artifact } from '@clawd402/testkit';
import type { ChainRegistry } from '../src/chain/chain-registry.ts';
import { Simulator } from '../src/chain/simulator.ts';
import { RECIPIENTS, getJson, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';
import { postNativeTransfer } from './support/suite.ts';
import { fundSigner } from './support/test-usd.ts';
import { UNISWAP, UNISWAP_DEPLOYER, setUpUniswap } from './support/uniswap.ts';

// Anvil's public, well-known dev account 8 (never real funds) deploys Uniswap V2 (support/uniswap.ts) and the tokens.
const ATTACKER = '0x000000000000000000000000000000000000bad0' as const;
const GAS_CAP = 250_000n;

// Generous on purpose: the simulation is the gate these tests are about.
const POLICY = `
policies:
  - name: trusted_router
    conditions: { transaction_type: contract_call, recipient_whitelist: ["${UNISWAP.router}"] }
    action: auto_approve
  - name: router_approvals
    conditions: { transaction_type: approve, spender_whitelist: ["${UNISWAP.router}"] }
    action: auto_approve
  - name: waived_transfers
    conditions: { transaction_type: transfer, recipient_whitelist: ["${RECIPIENTS[1]}"], simulation: waived }
    action: auto_approve
  - name: transfers
    conditions: { transaction_type: transfer, max_value: "100000" }
    action: auto_approve
`;

const { abi: ROUTER_ABI } = uniswapV2Artifact('UniswapV2Router02');

/** A JSON-RPC proxy to anvil that answers eth_simulateV1 like a node without it ("method not found"). */
function rpcWithoutSimulate(target: string): Promise<Server> {
  const handle = async (request: { id?: unknown; method?: string }): Promise<unknown> => {
    if (request.method === 'eth_simulateV1')
      return {
        jsonrpc: '2.0',
        id: request.id ?? null,
        error: { code: -32601, message: 'the method eth_simulateV1 does not exist/is not available' },
      };
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    return res.json();
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as
        { id?: unknown; method?: string } | { id?: unknown; method?: string }[];
      const answer = Array.isArray(body) ? await Promise.all(body.map(handle)) : await handle(body);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answer));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('simulation before the decision', () => {
  let stack: Stack;
  let token: string;
  let tusd: Address;
  let batchToken: Address;
  let proxy: Server | undefined;
  const now = (): number => Math.floor(Date.now() / 1000);
  const call = (to: Address, data: Hex, value?: string, baseUrl = stack.baseUrl) =>
    postIntent(baseUrl, token, { type: 'contract_call', chainId: 31337, to, data, ...(value ? { value } : {}) });
  const nonceOfSigner = () => stack.chain.getTransactionCount({ address: stack.signerAddress });

  before(async () => {
    stack = await startStack({ policy: POLICY, env: { SIMULATION_GAS_CAP: GAS_CAP.toString() } });
    token = await stack.token();
    const deployerKey = UNISWAP_DEPLOYER.privateKey as Hex;
    tusd = await setUpUniswap(stack);
    batchToken = await deployPermitToken({
      rpcUrl: stack.anvil.rpcUrl,
      deployerKey,
      name: 'Batch Token',
      symbol: 'BTK',
      supply: parseEther('1000'),
    });
    await fundSigner(stack, deployerKey, [[batchToken, parseEther('100')]]);
  });
  after(async () => {
    proxy?.close();
    await stack?.stop();
  });

  test('the simulation is stored with the intent and returned to the agent: flows, recipients, net USD outflow', async () => {
    const res = await postIntent(stack.baseUrl, token, {
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[0],
      asset: tusd,
      amount: '10',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const expected = {
      status: 'passed',
      outflows: [{ asset: getAddress(tusd), amount: parseUnits('10', 6).toString(), counterparty: RECIPIENTS[0] }],
      inflows: [],
      approvals: [],
      recipients: [RECIPIENTS[0]],
      netOutflowUsd: '10',
    };
    const { blockNumber, gasUsed, ...simulation } = res.body.simulation;
    assert.deepEqual(simulation, expected);
    assert.match(blockNumber, /^[0-9]+$/);
    assert.ok(Number(gasUsed) > 21_000);
    const read = await getJson(`${stack.baseUrl}/v1/intents/${res.body.id}`, token);
    assert.deepEqual(read.body.simulation, res.body.simulation);
    const row = await stack.pool.query('SELECT simulation FROM intents WHERE id = $1', [res.body.id]);
    assert.deepEqual(row.rows[0].simulation, res.body.simulation);
  });

  test('a call that would revert is refused with simulation_reverted and the decoded revert reason', async () => {
    const nonce = await nonceOfSigner();
    const data = encodeFunctionData({
      abi: ROUTER_ABI,
      functionName: 'swapExactETHForTokens',
      args: [0n, [UNISWAP.weth, tusd], stack.signerAddress, 1n],
    });
    const res = await call(UNISWAP.router, data, '0.01');
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'simulation_reverted');
    assert.equal(res.body.details.reason, 'UniswapV2Router: EXPIRED');
    assert.match(res.body.message, /UniswapV2Router: EXPIRED/);
    assert.equal(await nonceOfSigner(), nonce);
  });

  test("a transferFrom without the owner's allowance is refused with allowance_missing, naming the decoded custom error", async () => {
    const data = encodeFunctionData({
      abi: erc20Abi,
      functionName: 'transferFrom',
      args: [RECIPIENTS[1]!, RECIPIENTS[0]!, 1n],
    });
    const res = await call(tusd, data);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'allowance_missing');
    assert.equal(res.body.details.reason, `ERC20InsufficientAllowance(${stack.signerAddress}, 0, 1)`);
  });

  test('a balance that does not cover the value, the value plus the worst-case fee, or the token amount is insufficient_funds', async () => {
    const balance = await stack.chain.getBalance({ address: stack.signerAddress });
    const value = await postNativeTransfer(stack.baseUrl, token, RECIPIENTS[0]!, '5000');
    assert.deepEqual([value.status, value.body.code, value.body.details.asset], [422, 'insufficient_funds', 'native']);
    assert.equal(value.body.details.balance, balance.toString());
    // Exactly the balance: the value fits, the fee does not.
    const all = await postIntent(stack.baseUrl, token, {
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[0],
      asset: 'native',
      amount: (Number(balance / 10n ** 12n) / 1e6).toString(),
    });
    assert.equal(all.body.code, 'insufficient_funds', JSON.stringify(all.body));
    assert.ok(BigInt(all.body.details.required) > balance);
    const tokens = await postIntent(stack.baseUrl, token, {
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[0],
      asset: tusd,
      amount: '5000',
    });
    assert.deepEqual(
      [tokens.status, tokens.body.code, tokens.body.details.asset],
      [422, 'insufficient_funds', getAddress(tusd)],
    );
  });

  test("a signer's balance is read once per block, again in a new block, and past the kept one when asked fresh", async () => {
    const methods: string[] = [];
    const client = createPublicClient({
      transport: http(stack.anvil.rpcUrl, {
        onFetchRequest: async (request) => {
          const body = JSON.parse(await request.clone().text()) as { method: string } | { method: string }[];
          for (const c of [body].flat()) methods.push(c.method);
        },
      }),
    });
    const simulator = new Simulator({ client: () => client } as unknown as ChainRegistry);
    const who = '0x000000000000000000000000000000000000b0b0' as const;
    const reads = () => methods.filter((m) => m === 'eth_getBalance').length;
    await anvilRpc(stack.anvil.rpcUrl, 'anvil_setBalance', [who, '0x64']);
    await anvilRpc(stack.anvil.rpcUrl, 'evm_mine', []);
    const first = await Promise.all([1, 2, 3].map(() => simulator.nativeBalance(31337, who)));
    assert.deepEqual(first, [100n, 100n, 100n]);
    assert.equal(await simulator.nativeBalance(31337, who), 100n);
    assert.equal(reads(), 1, 'four reads at one block: one eth_getBalance');

    // A development chain changes the balance without a block: the kept answer stands, a fresh read sees it.
    await anvilRpc(stack.anvil.rpcUrl, 'anvil_setBalance', [who, '0xc8']);
    assert.equal(await simulator.nativeBalance(31337, who), 100n);
    assert.equal(await simulator.nativeBalance(31337, who, { fresh: true }), 200n);
    assert.equal(reads(), 2);

    await anvilRpc(stack.anvil.rpcUrl, 'anvil_setBalance', [who, '0x12c']);
    await anvilRpc(stack.anvil.rpcUrl, 'evm_mine', []);
    assert.equal(await simulator.nativeBalance(31337, who), 300n, 'a new block: read again');
    assert.equal(reads(), 3);
  });

  test('a shortfall in the balance kept for this block is read again before it refuses: a top-up without a block signs', async () => {
    const url = stack.anvil.rpcUrl;
    const original = await stack.chain.getBalance({ address: stack.signerAddress });
    try {
      // A new block where the signer holds 0.5 ETH: a 1 ETH transfer is refused, and 0.5 ETH is kept for this block.
      await anvilRpc(url, 'anvil_setBalance', [stack.signerAddress, toHex(parseEther('0.5'))]);
      await anvilRpc(url, 'evm_mine', []);
      const short = await postNativeTransfer(stack.baseUrl, token, RECIPIENTS[0]!, '1');
      assert.deepEqual([short.status, short.body.code], [422, 'insufficient_funds'], JSON.stringify(short.body));
      assert.equal(short.body.details.balance, parseEther('0.5').toString());
      // Topped up without a new block (a development chain can): the kept 0.5 ETH falls short, the fresh read does not.
      await anvilRpc(url, 'anvil_setBalance', [stack.signerAddress, toHex(original)]);
      const topped = await postNativeTransfer(stack.baseUrl, token, RECIPIENTS[0]!, '1');
      assert.equal(topped.status, 201, JSON.stringify(topped.body));
      assert.equal(
        (await waitForStatus(stack.baseUrl, token, topped.body.id, ['confirmed', 'failed'])).status,
        'confirmed',
      );
    } finally {
      await anvilRpc(url, 'anvil_setBalance', [stack.signerAddress, toHex(original)]);
    }
  });

  test('a transaction that needs more gas than SIMULATION_GAS_CAP is refused with gas_limit_exceeded', async () => {
    const batch = Array.from({ length: 12 }, (_, i) =>
      encodeFunctionData({
        abi: erc20Abi,
        functionName: 'transfer',
        args: [`0x${(0xa000 + i).toString(16).padStart(40, '0')}`, 1n],
      }),
    );
    const data = encodeFunctionData({
      abi: parseAbi(['function multicall(bytes[] data) returns (bytes[])']),
      functionName: 'multicall',
      args: [batch],
    });
    const res = await call(batchToken, data);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'gas_limit_exceeded');
    assert.equal(res.body.details.limit, GAS_CAP.toString());
  });

  test('an allowlisted router call that spends an old approval is refused with simulation_unexpected_outflow (drain through an allowance)', async () => {
    // The agent approved the router earlier, for a swap of its own.
    const approve = await call(
      tusd,
      encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [UNISWAP.router, parseUnits('500', 6)] }),
    );
    assert.equal(approve.status, 201, JSON.stringify(approve.body));
    assert.equal(
      (await waitForStatus(stack.baseUrl, token, approve.body.id, ['confirmed', 'failed'])).status,
      'confirmed',
    );
    // Now a raw router call (an unknown selector to the decoder, allowed by policy) sells 100 TUSD for an attacker.
    const nonce = await nonceOfSigner();
    const data = encodeFunctionData({
      abi: ROUTER_ABI,
      functionName: 'swapExactTokensForETH',
      args: [parseUnits('100', 6), 0n, [tusd, UNISWAP.weth], ATTACKER, BigInt(now() + 600)],
    });
    const res = await call(UNISWAP.router, data);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'simulation_unexpected_outflow');
    assert.equal(res.body.details.asset, getAddress(tusd));
    assert.equal(res.body.details.amount, parseUnits('100', 6).toString());
    assert.equal(await nonceOfSigner(), nonce);
    const refused = await stack.pool.query(
      "SELECT record FROM audit_log WHERE action = 'intent.refused' ORDER BY seq DESC LIMIT 1",
    );
    assert.match(refused.rows[0].record, /simulation_unexpected_outflow/);
  });

  test('where the RPC cannot simulate, simulation on refuses with simulation_unavailable unless the rule waives it; SIMULATION=off signs without it', async () => {
    proxy = await rpcWithoutSimulate(stack.anvil.rpcUrl);
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const strict = await stack.spawnGateway({ CHAIN_RPC_URLS: `31337=${proxyUrl}` });
    const res = await postNativeTransfer(strict.baseUrl, token, RECIPIENTS[0]!, '0.01');
    assert.deepEqual([res.status, res.body.code], [503, 'simulation_unavailable']);
    // A rule that says `simulation: waived` lets its intents through when the simulation cannot run.
    const waived = await postNativeTransfer(strict.baseUrl, token, RECIPIENTS[1]!, '0.01');
    assert.equal(waived.status, 201, JSON.stringify(waived.body));
    assert.equal(waived.body.decision.policy, 'waived_transfers');
    assert.equal(waived.body.simulation.status, 'skipped');
    await strict.stop();

    const lax = await stack.spawnGateway({ CHAIN_RPC_URLS: `31337=${proxyUrl}`, SIMULATION: 'off' });
    const signed = await postNativeTransfer(lax.baseUrl, token, RECIPIENTS[0]!, '0.01');
    assert.equal(signed.status, 201, JSON.stringify(signed.body));
    assert.equal(signed.body.simulation.status, 'skipped');
    await lax.stop();
  });
});

// @clawd402/sdk against the real stack (Postgres, Redis, anvil, the signer process; support/stack.ts): transfers and
// swaps confirmed on chain, signatures viem verifies, typed refusals, retries that never double-send, and budget()
// agreeing with what decisions report. Nothing is mocked; the only fault injected is a lost HTTP response.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { erc20Abi, getAddress, parseEther, parseUnits, verifyMessage, verifyTypedData, type Address } from 'viem';
import { Clawd402Client, Clawd402ClientError, type ExecuteResult } from '@clawd402/sdk';
import { toViemAccount } from '@clawd402/sdk/viem';
import { PERMIT_TYPES, runScript } from '@clawd402/testkit';
import { RECIPIENTS, TEST_POLICY, callJson, startStack, type Stack } from './support/stack.ts';
import { UNISWAP, UNISWAP_ENV, setUpUniswap } from './support/uniswap.ts';

const POLICY = `${TEST_POLICY}  - name: small_swaps
    conditions: { transaction_type: swap, max_value_usd: 500 }
    action: auto_approve
  - name: permits
    conditions: { transaction_type: typed_data, typed_data_primary_type: Permit }
    action: auto_approve
  - name: messages
    conditions: { transaction_type: message }
    action: auto_approve
`;
/** Not on the policy's list: any transfer to it is denied. */
const STRANGER: Address = '0x000000000000000000000000000000000000dEaD';
const EXAMPLE = fileURLToPath(new URL('../../../examples/sdk-transfer.ts', import.meta.url));
const example = (name: string): string => fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const micros = (usd: string): bigint => {
  const [whole, fraction = ''] = usd.split('.');
  return BigInt(whole! + fraction.padEnd(6, '0'));
};

describe('@clawd402/sdk against the gateway', { timeout: 300_000 }, () => {
  let stack: Stack;
  let client: Clawd402Client;
  let tusd: Address;
  let owner: string;
  const clientFor = (apiKey: string, extra: Partial<ConstructorParameters<typeof Clawd402Client>[0]> = {}) =>
    new Clawd402Client({ apiUrl: stack.baseUrl, apiKey, network: 'anvil', ...extra });
  const intentsOf = async (agentId: string): Promise<number> =>
    Number((await stack.pool.query('SELECT count(*) AS n FROM intents WHERE agent_id = $1', [agentId])).rows[0].n);
  const setLimits = async (agentId: string, dailyLimitUsd: string, hourlyLimitUsd: string) => {
    const set = await callJson(stack.baseUrl, owner, 'PUT', '/admin/costs/limits', {
      scope: `agent:${agentId}`,
      dailyLimitUsd,
      hourlyLimitUsd,
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
  };

  before(async () => {
    stack = await startStack({ policy: POLICY, env: UNISWAP_ENV });
    tusd = await setUpUniswap(stack);
    owner = await stack.loginAs('owner');
    client = clientFor(stack.agent.apiKey, { assets: { TUSD: { address: tusd, decimals: 6 } } });
  });
  after(async () => stack?.stop());

  test('execute transfer: exchanged token, Idempotency-Key, confirmed on anvil with the balance moved', async () => {
    const recipient = RECIPIENTS[1]!;
    const before = await stack.chain.getBalance({ address: recipient });
    const result = await client.execute({
      action: 'transfer',
      to: recipient,
      asset: 'native',
      amount: '0.01',
      wait: true,
    });
    assert.equal(result.status, 'confirmed');
    assert.equal(result.decision?.policy, 'small_transfers_to_dev_accounts');
    assert.equal(result.simulationResult?.status, 'passed');
    const receipt = await stack.chain.getTransactionReceipt({ hash: result.txHash as `0x${string}` });
    assert.equal(receipt.status, 'success');
    assert.equal((await stack.chain.getBalance({ address: recipient })) - before, parseEther('0.01'));
  });

  test('execute swap: 0.1 ETH for TUSD within 0.5 % slippage on the test Uniswap deployment', async () => {
    const tusdOfSigner = () =>
      stack.chain.readContract({
        address: tusd,
        abi: erc20Abi,
        functionName: 'balanceOf',
        args: [stack.signerAddress],
      });
    const before = await tusdOfSigner();
    const result = await client.execute({
      action: 'swap',
      inputAsset: 'native',
      inputAmount: '0.1',
      outputAsset: tusd,
      maxSlippagePercent: 0.5,
      deadline: Math.floor(Date.now() / 1000) + 600,
      simulate: true,
      wait: true,
    });
    assert.equal(result.status, 'confirmed');
    assert.equal(result.decision?.policy, 'small_swaps');
    const plan = result.intent.swap!;
    assert.equal(plan.maxSlippagePercent, '0.5');
    assert.deepEqual(plan.path, [UNISWAP.weth, getAddress(tusd)]);
    assert.equal(result.simulationResult?.status, 'passed');
    const received = (await tusdOfSigner()) - before;
    assert.ok(received >= parseUnits(plan.minOutput, 6), `received ${received}, minimum ${plan.minOutput}`);
  });

  test('execute({ instruction }) swaps the registered symbol; parseInstruction shows the request first', async () => {
    const parsed = client.parseInstruction('Swap 0.05 ETH for TUSD');
    assert.deepEqual(parsed, {
      action: 'swap',
      inputAmount: '0.05',
      inputAsset: 'native',
      outputAsset: tusd,
      maxSlippagePercent: '0.5',
    });
    const result = await client.execute({ instruction: 'Swap 0.05 ETH for TUSD', wait: true });
    assert.equal(result.status, 'confirmed');
    assert.equal(result.intent.type, 'swap');
    await assert.rejects(client.execute({ instruction: 'Swap 0.05 ETH for USDC' }), {
      code: 'instruction_unknown_asset',
    });
  });

  test('the viem account: signMessage and signTypedData are gateway signatures viem verifies', async () => {
    const account = toViemAccount(client, { address: stack.signerAddress });
    assert.equal(account.address, getAddress(stack.signerAddress));
    const message = 'Sign in to example.org as agent 7';
    const signature = await account.signMessage({ message });
    assert.equal(await verifyMessage({ address: stack.signerAddress, message, signature }), true);

    const typedData = {
      domain: { name: 'Test USD', version: '1', chainId: 31337, verifyingContract: tusd },
      types: PERMIT_TYPES,
      primaryType: 'Permit' as const,
      message: {
        owner: stack.signerAddress,
        spender: UNISWAP.router,
        value: 5_000_000n,
        nonce: 0n,
        deadline: 4102444800n,
      },
    };
    const typedSignature = await account.signTypedData(typedData);
    assert.equal(
      await verifyTypedData({ address: stack.signerAddress, ...typedData, signature: typedSignature }),
      true,
    );

    await assert.rejects(
      account.signTransaction({ to: RECIPIENTS[0]!, value: 1n, chainId: 31337, type: 'eip1559' }),
      (e: Clawd402ClientError) => e.code === 'sign_transaction_unsupported' && /client\.execute/.test(e.message),
    );
  });

  test('a policy denial surfaces as Clawd402ClientError with code, reasons and budgets; nothing is sent', async () => {
    const agent = await stack.newAgent('sdk-denied');
    await setLimits(agent.agentId, '1000', '500');
    const denied = clientFor(agent.apiKey);
    const nonce = await stack.chain.getTransactionCount({ address: stack.signerAddress });
    const error = await denied.execute({ action: 'transfer', to: STRANGER, asset: 'native', amount: '0.01' }).then(
      () => assert.fail('not refused'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof Clawd402ClientError);
    assert.equal(error.code, 'policy_denied');
    assert.equal(error.status, 403);
    assert.equal(error.intent?.status, 'rejected');
    assert.deepEqual(
      error.reasons.map((r) => r.code),
      ['policy.default_deny'],
    );
    assert.deepEqual(
      error.budgets.map((b) => [b.scope, b.window, b.limitUsd, b.remainingUsd]),
      [
        ['agent', '24h', '1000', '1000'],
        ['agent', '1h', '500', '500'],
      ],
    );
    assert.equal(await stack.chain.getTransactionCount({ address: stack.signerAddress }), nonce);
  });

  test("wallet { type: 'private_key' } is refused in the client: nothing reaches the gateway", async () => {
    const agent = await stack.newAgent('sdk-private-key');
    const refused = clientFor(agent.apiKey);
    await assert.rejects(
      refused.execute({
        action: 'transfer',
        to: RECIPIENTS[0]!,
        amount: '0.01',
        wallet: { type: 'private_key', privateKey: `0x${'11'.repeat(32)}` },
      }),
      (e: Clawd402ClientError) => e.code === 'wallet_private_key_refused' && /keys live in the signer/.test(e.message),
    );
    assert.equal(await intentsOf(agent.agentId), 0);
  });

  test('a write whose response is lost is retried with the same Idempotency-Key and sends once', async () => {
    const agent = await stack.newAgent('sdk-retry');
    const keys: string[] = [];
    let lost = 0;
    // The gateway answers the first POST, but the answer never arrives: the SDK sees a network failure and retries.
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (init?.method === 'POST' && url.endsWith('/v1/intents')) {
        keys.push(new Headers(init.headers).get('idempotency-key')!);
        if (lost === 0) {
          lost += 1;
          await res.arrayBuffer();
          throw new TypeError('fetch failed');
        }
      }
      return res;
    };
    const retrying = clientFor(agent.apiKey, { fetch: lossy });
    const recipient = RECIPIENTS[2]!;
    const balance = await stack.chain.getBalance({ address: recipient });
    const result = await retrying.execute({ action: 'transfer', to: recipient, amount: '0.02', wait: true });
    assert.equal(result.status, 'confirmed');
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
    assert.equal(await intentsOf(agent.agentId), 1);
    assert.equal((await stack.chain.getBalance({ address: recipient })) - balance, parseEther('0.02'));
  });

  test('budget() equals what decisions report: before plus the reservation, and a rejection as it stands', async () => {
    const agent = await stack.newAgent('sdk-budget');
    await setLimits(agent.agentId, '100', '50');
    const budgeted = clientFor(agent.apiKey);
    const empty = await budgeted.budget();
    assert.deepEqual(
      empty.map((b) => [b.scope, b.window, b.limitUsd, b.spentUsd, b.remainingUsd, b.freesAt]),
      [
        ['agent', '24h', '100', '0', '100', null],
        ['agent', '1h', '50', '0', '50', null],
      ],
    );
    // An approved intent's budgets are those before it plus what it reserved.
    const sent: ExecuteResult = await budgeted.execute({
      action: 'transfer',
      to: RECIPIENTS[0]!,
      amount: '0.005',
      wait: true,
    });
    const reserved = micros(sent.decision!.money!.reservedUsd);
    assert.ok(reserved > 0n);
    assert.deepEqual(
      sent.budget.map((b) => micros(b.spentUsd)),
      empty.map((b) => micros(b.spentUsd) + reserved),
    );
    // Settled, then an intent over the hourly limit is refused: its budgets are exactly what budget() answers.
    const now = await budgeted.budget();
    const error = await budgeted.execute({ action: 'transfer', to: RECIPIENTS[0]!, amount: '0.03' }).then(
      () => assert.fail('not refused'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof Clawd402ClientError);
    assert.equal(error.code, 'policy_denied');
    assert.ok(error.reasons.some((r) => r.code === 'spend.limit_exceeded'));
    assert.deepEqual(error.budgets, now);
    assert.deepEqual(await budgeted.budget(), now);
  });

  test('examples/sdk-transfer.ts runs as a child process against the stack and confirms its transfer', async () => {
    const agent = await stack.newAgent('sdk-example');
    const run = runScript(EXAMPLE, [], ROOT, {
      CLAWD402_API_URL: stack.baseUrl,
      CLAWD402_API_KEY: agent.apiKey,
      CLAWD402_CHAIN_ID: '31337',
    });
    assert.equal(await run.exit, 0, run.stderr());
    const line = JSON.parse(run.stdout().trim()) as { id: string; status: string; txHash: string; policy: string };
    assert.equal(line.status, 'confirmed');
    assert.equal(line.policy, 'small_transfers_to_dev_accounts');
    const receipt = await stack.chain.getTransactionReceipt({ hash: line.txHash as `0x${string}` });
    assert.equal(receipt.status, 'success');
    assert.equal(await intentsOf(agent.agentId), 1);
  });

  for (const script of ['viem-transfer.ts', 'ethers-transfer.ts']) {
    test(`examples/${script} (unmodified ${script.split('-')[0]} over /rpc) runs against the stack and its transfer is mined`, async () => {
      const agent = await stack.newAgent(`example-${script}`);
      const run = runScript(example(script), [], ROOT, {
        CLAWD402_API_URL: stack.baseUrl,
        CLAWD402_API_KEY: agent.apiKey,
        CLAWD402_CHAIN_ID: '31337',
      });
      assert.equal(await run.exit, 0, run.stderr());
      const line = JSON.parse(run.stdout().trim()) as { from: string; hash: `0x${string}`; status: unknown };
      assert.ok(line.status === 'success' || line.status === 1, JSON.stringify(line));
      assert.equal(line.from.toLowerCase(), stack.signerAddress.toLowerCase());
      const receipt = await stack.chain.getTransactionReceipt({ hash: line.hash });
      assert.equal(receipt.status, 'success');
      const intent = await stack.pool.query('SELECT status, tx_hash, origin FROM intents WHERE agent_id = $1', [
        agent.agentId,
      ]);
      assert.equal(intent.rows.length, 1, 'one intent, the one the wallet call became');
      assert.equal(intent.rows[0].tx_hash, line.hash);
      assert.equal(intent.rows[0].origin.channel, 'rpc');
    });
  }
});

// x402 payments end to end with the REAL reference packages from npm, unmodified: a resource server built with
// @x402/hono (x402ResourceServer + the `exact` EVM server scheme) and a local facilitator built from @x402/core's
// x402Facilitator and @x402/evm's `exact` facilitator scheme, both pointed at anvil and an EIP-3009 token compiled with
// solc (packages/testkit/contracts/Eip3009Token.sol). The agent pays with the SDK's `client.fetch` through the gateway.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { x402Facilitator } from '@x402/core/facilitator';
import { x402ResourceServer, paymentMiddleware } from '@x402/hono';
import { toFacilitatorEvmSigner } from '@x402/evm';
import { ExactEvmScheme as ExactEvmFacilitatorScheme } from '@x402/evm/exact/facilitator';
import { ExactEvmScheme as ExactEvmServerScheme } from '@x402/evm/exact/server';
import { createWalletClient, defineChain, erc20Abi, getContractAddress, http, publicActions, type Address } from 'viem';
import { nonceManager, privateKeyToAccount } from 'viem/accounts';
import { Clawd402Client, Clawd402ClientError, readSettlement } from '@clawd402/sdk';
import { ANVIL_ACCOUNTS, deployEip3009Token } from '@clawd402/testkit';
import { upsertAsset } from '../src/repositories/assets-repository.ts';
import { RECIPIENTS, TEST_POLICY, callJson, startStack, type Stack } from './support/stack.ts';

/** Anvil's dev account 9 deploys the token: its first contract's address is known before the gateway starts. */
const DEPLOYER = ANVIL_ACCOUNTS[9];
const TOKEN = getContractAddress({ from: DEPLOYER.address, nonce: 0n });
/** Anvil's dev account 8 runs the facilitator (it pays the gas of settlement). */
const FACILITATOR = ANVIL_ACCOUNTS[8];
/** Who the resource is paid to (dev account 6), and another payee a hostile 402 names (dev account 7). */
const PAYEE = RECIPIENTS[5]!;
const OTHER_PAYEE = RECIPIENTS[6]!;
const NETWORK = 'eip155:31337' as const;
/** 0.01 USDC (6 decimals) at the static price of 1 USD. */
const PRICE = '10000';

const POLICY = `
policies:
  - name: paid_api_cents
    conditions:
      transaction_type: x402_payment
      x402_host: "127.0.0.1"
      x402_payee: [listed, pinned, new]
      max_value_usd: "0.05"
    action: auto_approve
${TEST_POLICY.replace('policies:\n', '')}`;

describe('x402 payments through the gateway', { timeout: 600_000 }, () => {
  let stack: Stack;
  let owner: string;
  let server: ServerType;
  let resourceUrl: string;
  let served = 0;
  const client = (apiKey: string) => new Clawd402Client({ apiUrl: stack.baseUrl, apiKey, network: 'anvil' });
  const balanceOf = (who: Address) =>
    stack.chain.readContract({ address: TOKEN, abi: erc20Abi, functionName: 'balanceOf', args: [who] });
  const setDailyLimit = async (agentId: string, dailyLimitUsd: string) => {
    const set = await callJson(stack.baseUrl, owner, 'PUT', '/admin/costs/limits', {
      scope: `agent:${agentId}`,
      dailyLimitUsd,
      hourlyLimitUsd: dailyLimitUsd,
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
  };
  const x402Intents = async (agentId: string) =>
    (
      await stack.pool.query<{
        status: string;
        spend_state: string | null;
        signature: string | null;
        channel: string | null;
      }>(
        `SELECT status, spend_state, signature, origin->>'channel' AS channel FROM intents WHERE agent_id = $1 AND type = 'x402_payment'`,
        [agentId],
      )
    ).rows;

  before(async () => {
    stack = await startStack({
      policy: POLICY,
      env: { X402_ASSETS: `31337=${TOKEN}`, X402_MAX_PAYMENT_USD: '1', X402_MAX_VALIDITY_SECONDS: '600' },
    });
    owner = await stack.loginAs('owner');
    const deployed = await deployEip3009Token({
      rpcUrl: stack.anvil.rpcUrl,
      deployerKey: DEPLOYER.privateKey,
      name: 'USD Coin',
      symbol: 'USDC',
      version: '2',
      supply: 1_000_000n * 10n ** 6n,
    });
    assert.equal(deployed, TOKEN);
    await upsertAsset(
      stack.pool,
      {
        chainId: 31337,
        asset: TOKEN,
        symbol: 'USDC',
        decimals: 6,
        priceSource: { kind: 'static', usd: '1', maxAgeSeconds: null },
      },
      'system:test',
    );
    const chain = defineChain({
      id: 31337,
      name: 'anvil',
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [stack.anvil.rpcUrl] } },
    });
    const deployer = createWalletClient({
      account: privateKeyToAccount(DEPLOYER.privateKey),
      chain,
      transport: http(),
    });
    const funded = await deployer.writeContract({
      address: TOKEN,
      abi: erc20Abi,
      functionName: 'transfer',
      args: [stack.signerAddress, 100n * 10n ** 6n],
    });
    await stack.chain.waitForTransactionReceipt({ hash: funded });

    // The local facilitator: the reference x402Facilitator with the reference `exact` EVM scheme, settling on anvil.
    const facilitatorWallet = createWalletClient({
      account: privateKeyToAccount(FACILITATOR.privateKey, { nonceManager }),
      chain,
      transport: http(),
      pollingInterval: 100,
    }).extend(publicActions);
    const evmSigner = toFacilitatorEvmSigner(
      Object.assign(facilitatorWallet, { address: FACILITATOR.address }) as unknown as Parameters<
        typeof toFacilitatorEvmSigner
      >[0],
      { confirmationTimeoutMs: 60_000 },
    );
    const facilitator = new x402Facilitator().register(NETWORK, new ExactEvmFacilitatorScheme(evmSigner));
    const facilitatorClient = {
      verify: (payload: never, requirements: never) => facilitator.verify(payload, requirements),
      settle: (payload: never, requirements: never) => facilitator.settle(payload, requirements),
      getSupported: async () => facilitator.getSupported(),
    };

    // The resource server: @x402/hono's paymentMiddleware with the reference server scheme.
    const resourceServer = new x402ResourceServer(facilitatorClient as never).register(
      NETWORK,
      new ExactEvmServerScheme(),
    );
    const option = (payTo: Address, amount: string) => ({
      scheme: 'exact',
      network: NETWORK,
      payTo,
      price: { amount, asset: TOKEN, extra: { name: 'USD Coin', version: '2' } },
      maxTimeoutSeconds: 300,
    });
    const app = new Hono();
    app.use(
      paymentMiddleware(
        {
          'GET /data': { accepts: option(PAYEE, PRICE), description: 'one datum' },
          'GET /premium': { accepts: option(PAYEE, '60000'), description: 'above the 0.05 USD rule' },
          'GET /moved': { accepts: option(OTHER_PAYEE, PRICE), description: 'the payee changed' },
          'GET /slow': { accepts: { ...option(PAYEE, PRICE), maxTimeoutSeconds: 86_400 }, description: 'a day' },
        },
        resourceServer as never,
      ),
    );
    for (const path of ['/data', '/premium', '/moved', '/slow']) {
      app.get(path, (c) => {
        served += 1;
        return c.json({ datum: 42, path });
      });
    }
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    resourceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await stack?.stop();
  });

  test('client.fetch pays through the gateway: facilitator verifies and settles, the payee gets exactly the price, the budget shows it', async () => {
    const { agentId, apiKey } = await stack.newAgent('x402-buyer');
    await setDailyLimit(agentId, '5');
    const agent = client(apiKey);
    const before = await balanceOf(PAYEE);
    const unpaid = await fetch(`${resourceUrl}/data`);
    assert.equal(unpaid.status, 402);

    const response = await agent.fetch(`${resourceUrl}/data`);
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), { datum: 42, path: '/data' });
    const settlement = readSettlement(response);
    assert.equal(settlement?.success, true, JSON.stringify(settlement));
    assert.match(String(settlement?.transaction), /^0x[0-9a-f]{64}$/);
    assert.equal((await balanceOf(PAYEE)) - before, BigInt(PRICE));

    const [intent] = await x402Intents(agentId);
    assert.ok(intent);
    assert.match(intent.signature!, /^0x[0-9a-f]{130}$/);
    const budget = await agent.budget();
    const day = budget.find((b) => b.scope === 'agent' && b.window === '24h');
    assert.equal(day?.spentUsd, '0.01', JSON.stringify(budget));
    // The settlement sweep sees the transfer on chain (authorizationState) and commits the reservation.
    const deadline = Date.now() + 30_000;
    let rows = await x402Intents(agentId);
    while (rows[0]?.status !== 'confirmed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      rows = await x402Intents(agentId);
    }
    assert.deepEqual(
      rows.map((r) => [r.status, r.spend_state, r.channel]),
      [['confirmed', 'committed', 'x402']],
    );
  });

  test('the same payment id and requirements answer the same authorisation (never paid twice)', async () => {
    const { apiKey } = await stack.newAgent('x402-retry');
    const agent = client(apiKey);
    const required = await fetch(`${resourceUrl}/data`);
    const decoded = JSON.parse(Buffer.from(required.headers.get('payment-required')!, 'base64').toString()) as {
      accepts: Record<string, unknown>[];
    };
    const ask = () =>
      agent.payX402({
        chainId: 31337,
        resource: `${resourceUrl}/data`,
        x402Version: 2,
        requirements: decoded.accepts[0] as never,
        idempotencyKey: 'x402-same-request',
      });
    const [first, second] = await Promise.all([ask(), ask()]);
    assert.equal(first.id, second.id);
    assert.deepEqual(first.x402?.authorization, second.x402?.authorization);
    assert.equal(first.signing?.signature, second.signing?.signature);
  });

  test('a price above the rule (0.06 > 0.05 USD) is refused by policy: nothing signed, not served, nothing reserved', async () => {
    const { agentId, apiKey } = await stack.newAgent('x402-capped');
    const servedBefore = served;
    await assert.rejects(client(apiKey).fetch(`${resourceUrl}/premium`), (error: Clawd402ClientError) => {
      assert.equal(error.code, 'policy_denied');
      return true;
    });
    assert.equal(served, servedBefore);
    const rows = await x402Intents(agentId);
    assert.deepEqual(
      rows.map((r) => [r.status, r.spend_state, r.signature]),
      [['rejected', null, null]],
    );
  });

  test('hostile 402s are refused with their own codes before anything is recorded or signed', async () => {
    const { agentId, apiKey } = await stack.newAgent('x402-hostile');
    const agent = client(apiKey);
    const servedBefore = served;
    const refusal = async (path: string) => {
      const error = (await agent.fetch(`${resourceUrl}${path}`).catch((e: unknown) => e)) as Clawd402ClientError;
      assert.ok(error instanceof Clawd402ClientError, String(error));
      return error.code;
    };
    assert.equal(await refusal('/moved'), 'x402_payee_changed');
    assert.equal(await refusal('/slow'), 'x402_validity_too_long');
    const body = (requirements: unknown) => ({
      chainId: 31337,
      resource: `${resourceUrl}/data`,
      x402Version: 2 as const,
      requirements: requirements as never,
      idempotencyKey: crypto.randomUUID(),
    });
    const good = {
      scheme: 'exact',
      network: NETWORK,
      asset: TOKEN,
      amount: PRICE,
      payTo: PAYEE,
      maxTimeoutSeconds: 300,
      extra: { name: 'USD Coin', version: '2' },
    };
    const codeOf = async (requirements: unknown) =>
      ((await agent.payX402(body(requirements)).catch((e: unknown) => e)) as Clawd402ClientError).code;
    assert.equal(await codeOf({ ...good, asset: RECIPIENTS[0] }), 'x402_asset_not_configured');
    assert.equal(await codeOf({ ...good, network: 'eip155:1' }), 'x402_network_mismatch');
    assert.equal(await codeOf({ ...good, scheme: 'upto' }), 'x402_scheme_unsupported');
    assert.equal(await codeOf({ ...good, amount: '-1' }), 'x402_requirements_malformed');
    assert.equal(await codeOf({ ...good, extra: {} }), 'x402_requirements_malformed');
    assert.equal(
      await codeOf({ ...good, extra: { name: 'x'.repeat(9000), version: '2' } }),
      'x402_requirements_too_large',
    );
    assert.equal(await codeOf({ ...good, amount: '2000000' }), 'x402_amount_above_cap');
    assert.equal(served, servedBefore);
    assert.deepEqual(await x402Intents(agentId), []);
  });

  test('20 parallel paid fetches against a budget of 10 payments a day: exactly 10 paid', async () => {
    const { agentId, apiKey } = await stack.newAgent('x402-parallel');
    await setDailyLimit(agentId, '0.10');
    const agent = client(apiKey);
    const before = await balanceOf(PAYEE);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => agent.fetch(`${resourceUrl}/data`)));
    const paid = results.filter((r) => r.status === 'fulfilled' && r.value.status === 200);
    const refused = results.filter(
      (r) => r.status === 'rejected' && (r.reason as Clawd402ClientError).code === 'policy_denied',
    );
    assert.equal(
      paid.length,
      10,
      JSON.stringify(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.value.status))),
    );
    assert.equal(refused.length, 10);
    assert.equal((await balanceOf(PAYEE)) - before, 10n * BigInt(PRICE));
    const day = (await agent.budget()).find((b) => b.scope === 'agent' && b.window === '24h');
    assert.equal(day?.spentUsd, '0.1');
  });

  test('one budget: an on-chain token transfer and x402 payments draw from the same daily USD limit', async () => {
    const { agentId, apiKey } = await stack.newAgent('x402-one-budget');
    await setDailyLimit(agentId, '10');
    const agent = client(apiKey);
    const transfer = await agent.execute({
      action: 'transfer',
      to: RECIPIENTS[0]!,
      asset: TOKEN,
      amount: '0.03',
      wait: true,
    });
    assert.equal(transfer.status, 'confirmed');
    // What the transfer counts once trued up from its receipt (0.03 USD and its fee at anvil's 2,000 USD ETH), then
    // room for one 0.01 payment, not two.
    const settledSpend = async () =>
      (
        await stack.pool.query<{ state: string; usd: string }>(
          'SELECT spend_state AS state, spend_usd_micros AS usd FROM intents WHERE id = $1',
          [transfer.intent.id],
        )
      ).rows[0]!;
    let row = await settledSpend();
    for (let i = 0; i < 150 && row.state !== 'settled'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      row = await settledSpend();
    }
    assert.equal(row.state, 'settled');
    const spent = Number(row.usd) / 1e6;
    assert.ok(spent >= 0.03, String(spent));
    await setDailyLimit(agentId, (Number(spent) + 0.015).toFixed(6));
    const paid = await agent.fetch(`${resourceUrl}/data`);
    assert.equal(paid.status, 200); // spent + 0.01 <= spent + 0.015
    const error = (await agent.fetch(`${resourceUrl}/data`).catch((e: unknown) => e)) as Clawd402ClientError;
    assert.equal(error.code, 'policy_denied'); // spent + 0.02 > spent + 0.015
    assert.ok(
      error.reasons.some((r) => r.code === 'spend.limit_exceeded'),
      JSON.stringify(error.reasons),
    );
  });
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestClient, createWalletClient, erc20Abi, getAddress, http, parseUnits, type Address } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ANVIL_ACCOUNTS, deployPriceFeed, deployTestToken, updatePriceFeed } from '@clawd402/testkit';
import type pg from 'pg';
import { PriceBook } from '../src/money/price-book.ts';
import { RECIPIENTS, callJson, postIntent, startStack, type Stack } from './support/stack.ts';

/**
 * USD price sources on a real chain: Chainlink's MockV3Aggregator (compiled from @chainlink/contracts) deployed on
 * anvil and read by the gateway's PriceBook over RPC, static prices with a maximum age, and the asset registry's
 * admin route. Money fails closed: an intent that cannot be valued is refused, whatever rule approved it.
 *
 * Two rules tell a USD-bounded rule from a unit-bounded one by recipient: transfers to RECIPIENTS[0] are bounded by
 * `max_value_usd` (the policy itself needs the price), transfers to the others by `max_value` in units (the policy
 * approves without a price; the money checks after it must still refuse).
 */
const USD_RECIPIENT = RECIPIENTS[0]!;
const UNIT_RECIPIENT = RECIPIENTS[1]!;
const POLICY = `
policies:
  - name: usd_bounded
    conditions:
      transaction_type: transfer
      recipient_whitelist: ["${USD_RECIPIENT}"]
      max_value_usd: "5000"
    action: auto_approve
  - name: unit_bounded
    conditions:
      transaction_type: transfer
      recipient_whitelist: [${RECIPIENTS.slice(1)
        .map((r) => `"${r}"`)
        .join(', ')}]
      max_value: "100"
    action: auto_approve
`;

/** Anvil's public dev account 0 (well-known key, test funds only): deploys and updates the feeds. */
const DEV_KEY = ANVIL_ACCOUNTS[0].privateKey as `0x${string}`;
const FEED_DECIMALS = 8;
const usd8 = (usd: bigint): bigint => usd * 10n ** 8n;

type Answer = { status: number; body: any };
const reasonsOf = (res: Answer): string[] =>
  (res.body.intent ?? res.body).decision.reasons.map((r: { code: string }) => r.code);

/** Retry `attempt` until `done` holds (the price caches: registry 1 s, feed reads 2 s); bounded, no timing assertion. */
async function until(attempt: () => Promise<Answer>, done: (res: Answer) => boolean, what: string): Promise<Answer> {
  let last: Answer | undefined;
  for (let i = 0; i < 60; i++) {
    last = await attempt();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: still ${last?.status} ${JSON.stringify(last?.body)}`);
}

describe('USD prices: Chainlink feeds and static prices on a real chain', () => {
  let stack: Stack;
  let owner: string;
  let agent: string;

  before(async () => {
    stack = await startStack({ policy: POLICY });
    owner = await stack.loginAs('owner');
    agent = await stack.token();
  });
  after(async () => stack?.stop());

  const send = (to: Address, amount: string, asset = 'native'): Promise<Answer> =>
    postIntent(stack.baseUrl, agent, { type: 'transfer', chainId: 31337, to, asset, amount });

  const priceNative = async (price: Record<string, unknown>): Promise<void> => {
    const res = await callJson(stack.baseUrl, owner, 'PUT', '/admin/assets/31337/native', {
      symbol: 'ETH',
      decimals: 18,
      price,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  const newFeed = (answer: bigint): Promise<Address> =>
    deployPriceFeed({ rpcUrl: stack.anvil.rpcUrl, deployerKey: DEV_KEY, decimals: FEED_DECIMALS, answer });

  /** Both rules refuse: the USD rule in the policy, the unit rule in the money checks after it. */
  async function assertBothRefused(
    code: 'price.stale' | 'price.unavailable',
    amount = '0.5',
    asset = 'native',
  ): Promise<void> {
    const usdRule = await send(USD_RECIPIENT, amount, asset);
    assert.deepEqual([usdRule.status, usdRule.body.code], [403, 'policy_denied'], JSON.stringify(usdRule.body));
    assert.equal(usdRule.body.intent.status, 'rejected');
    assert.equal(usdRule.body.intent.decision.policy, 'usd_bounded');
    assert.deepEqual(reasonsOf(usdRule), [code], 'the max_value_usd condition fails closed with the price reason');
    assert.equal(usdRule.body.intent.decision.money.valueUsd, null);
    assert.equal(usdRule.body.intent.decision.money.reservedUsd, '0');

    const unitRule = await send(UNIT_RECIPIENT, amount, asset);
    assert.deepEqual([unitRule.status, unitRule.body.code], [403, 'policy_denied'], JSON.stringify(unitRule.body));
    assert.equal(unitRule.body.intent.decision.policy, 'unit_bounded');
    assert.deepEqual(reasonsOf(unitRule), ['policy.rule_matched', code], 'the rule approved; money refused after it');
    assert.equal(unitRule.body.intent.decision.money.valueUsd, null);
    assert.equal(unitRule.body.intent.decision.money.reservedUsd, '0');
  }

  test('native ETH priced by a Chainlink feed: exact value, and a new answer reprices', async () => {
    const feed = await newFeed(usd8(2000n));
    await priceNative({ kind: 'chainlink', aggregator: feed, maxAgeSeconds: 3600 });

    const first = await send(USD_RECIPIENT, '0.5');
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.decision.action, 'auto_approve');
    assert.equal(first.body.decision.policy, 'usd_bounded');
    assert.equal(first.body.decision.money.valueUsd, '1000');
    // The valuation is recorded with its source and the feed's price in micro-USD per ETH.
    const { rows } = await stack.pool.query<{ valuation: any }>('SELECT valuation FROM intents WHERE id = $1', [
      first.body.id,
    ]);
    assert.deepEqual(
      {
        status: rows[0]!.valuation.asset.status,
        source: rows[0]!.valuation.asset.source,
        usdPerUnitMicros: rows[0]!.valuation.asset.usdPerUnitMicros,
      },
      { status: 'ok', source: 'chainlink', usdPerUnitMicros: '2000000000' },
    );

    // 2.5 ETH at 2,000 USD = 5,000 USD: exactly at the USD bound, inclusive.
    const atBound = await send(USD_RECIPIENT, '2.5');
    assert.equal(atBound.status, 201, JSON.stringify(atBound.body));
    assert.equal(atBound.body.decision.money.valueUsd, '5000');

    await updatePriceFeed({ rpcUrl: stack.anvil.rpcUrl, senderKey: DEV_KEY, feed, answer: usd8(3000n) });
    const repriced = await until(
      () => send(USD_RECIPIENT, '0.5'),
      (r) => r.body.decision?.money?.valueUsd !== '1000',
      'the new feed answer',
    );
    assert.equal(repriced.status, 201, JSON.stringify(repriced.body));
    assert.equal(repriced.body.decision.money.valueUsd, '1500');

    // The same 2.5 ETH is now 7,500 USD: the USD rule no longer holds and nothing else allows that recipient.
    const over = await send(USD_RECIPIENT, '2.5');
    assert.deepEqual([over.status, over.body.code], [403, 'policy_denied']);
    assert.deepEqual(reasonsOf(over), ['policy.default_deny']);
    assert.equal(over.body.intent.decision.money.valueUsd, '7500');
  });

  test('a feed last updated longer ago than maxAgeSeconds is stale: the USD rule and the unit rule both refuse', async () => {
    const feed = await newFeed(usd8(2000n));
    const block = await stack.chain.getBlock();
    const round = await updatePriceFeed({
      rpcUrl: stack.anvil.rpcUrl,
      senderKey: DEV_KEY,
      feed,
      answer: usd8(2000n),
      updatedAt: block.timestamp - 7200n,
    });
    assert.equal(round.updatedAt, block.timestamp - 7200n);
    await priceNative({ kind: 'chainlink', aggregator: feed, maxAgeSeconds: 3600 });

    await assertBothRefused('price.stale');

    // A fresh round makes the same feed usable again (once the 2 s feed cache has turned over).
    await updatePriceFeed({ rpcUrl: stack.anvil.rpcUrl, senderKey: DEV_KEY, feed, answer: usd8(2000n) });
    const fresh = await until(
      () => send(UNIT_RECIPIENT, '0.5'),
      (r) => r.status !== 403,
      'the fresh feed round',
    );
    assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
    assert.equal(fresh.body.decision.money.valueUsd, '1000');
  });

  test('a token with no registry entry has no price: price.unavailable', async () => {
    await priceNative({ kind: 'static', usd: '2000' }); // fees are priced; only the token is not
    const token = await deployTestToken({
      rpcUrl: stack.anvil.rpcUrl,
      deployerKey: DEV_KEY,
      name: 'Unpriced',
      symbol: 'UNP',
      decimals: 6,
      supply: parseUnits('1000', 6),
    });
    // The signer key holds some, so the gas estimate of the transfer succeeds and only the price is missing.
    const wallet = createWalletClient({ account: privateKeyToAccount(DEV_KEY), transport: http(stack.anvil.rpcUrl) });
    const hash = await wallet.writeContract({
      address: token,
      abi: erc20Abi,
      functionName: 'transfer',
      args: [stack.signerAddress, parseUnits('100', 6)],
      chain: null,
    });
    await stack.chain.waitForTransactionReceipt({ hash });
    const assets = await callJson(stack.baseUrl, owner, 'GET', '/admin/assets');
    assert.equal(
      assets.body.items.some((a: { asset: string }) => a.asset === getAddress(token)),
      false,
    );

    await assertBothRefused('price.unavailable', '5', token);
  });

  test('a static price older than its maxAgeSeconds is stale; setting it again makes it fresh', async () => {
    await priceNative({ kind: 'static', usd: '2000', maxAgeSeconds: 60 });
    const ok = await send(UNIT_RECIPIENT, '0.5');
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.decision.money.valueUsd, '1000');

    await stack.pool.query(
      `UPDATE assets SET updated_at = now() - interval '2 minutes' WHERE chain_id = 31337 AND asset = 'native'`,
    );
    await until(
      () => send(UNIT_RECIPIENT, '0.5'),
      (r) => r.status === 403,
      'the aged static price',
    );
    await assertBothRefused('price.stale');

    await priceNative({ kind: 'static', usd: '2000', maxAgeSeconds: 60 });
    const again = await send(USD_RECIPIENT, '0.5');
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.decision.money.valueUsd, '1000');
  });

  test('a registry read in flight when a price changes is not cached past invalidate() (regression)', async () => {
    await priceNative({ kind: 'static', usd: '2000' });
    // The real pool, but the first registry read's answer is held back until the change below has committed.
    let queried!: () => void;
    let release!: () => void;
    const readDone = new Promise<void>((r) => (queried = r));
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    const pool = {
      query: async (...args: Parameters<pg.Pool['query']>) => {
        const result = await (stack.pool.query as (...a: unknown[]) => Promise<unknown>)(...args);
        if (first) {
          first = false;
          queried();
          await gate;
        }
        return result;
      },
    } as unknown as pg.Pool;
    const book = new PriceBook({ pool, chains: stack.app.services.chains });

    const inFlight = book.price(31337, 'native');
    await readDone; // its rows say 2,000 USD
    await priceNative({ kind: 'static', usd: '3000' });
    book.invalidate(); // what the admin route does after a change
    release();
    const old = await inFlight;
    assert.equal(
      old.status === 'ok' && old.micros,
      2_000_000_000n,
      'the read that began before the change answers what it read',
    );
    const next = await book.price(31337, 'native');
    assert.equal(next.status === 'ok' && next.micros, 3_000_000_000n, 'the next read sees the change at once');
  });

  test('a feed answering 0 or a negative price is no price: price.unavailable', async () => {
    await priceNative({ kind: 'chainlink', aggregator: await newFeed(0n), maxAgeSeconds: 3600 });
    await assertBothRefused('price.unavailable');

    await priceNative({ kind: 'chainlink', aggregator: await newFeed(-usd8(2000n)), maxAgeSeconds: 3600 });
    await assertBothRefused('price.unavailable');
  });

  test('a feed whose read itself fails (its code replaced by a contract without latestRoundData): price.unavailable, nothing reserved', async () => {
    const feed = await newFeed(usd8(2000n));
    await priceNative({ kind: 'chainlink', aggregator: feed, maxAgeSeconds: 3600 });
    const priced = await send(UNIT_RECIPIENT, '0.5');
    assert.equal(priced.status, 201, JSON.stringify(priced.body));

    // The feed's address now holds an ERC-20's code: latestRoundData() reverts, so every read fails.
    const token = await deployTestToken({
      rpcUrl: stack.anvil.rpcUrl,
      deployerKey: DEV_KEY,
      name: 'NotAFeed',
      symbol: 'NAF',
      decimals: 6,
      supply: 1n,
    });
    const feedCode = await stack.chain.getCode({ address: feed });
    const tokenCode = await stack.chain.getCode({ address: token });
    assert.ok(feedCode && tokenCode);
    const anvil = createTestClient({ mode: 'anvil', transport: http(stack.anvil.rpcUrl) });
    await anvil.setCode({ address: feed, bytecode: tokenCode });

    await until(
      () => send(UNIT_RECIPIENT, '0.5'),
      (r) => r.status === 403,
      'the failing feed read (past the 2 s feed cache)',
    );
    // Sends while the 2 s feed cache still held the last good answer were priced; from here on none may pass.
    const before = await stack.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM intents WHERE status <> 'rejected'",
    );
    await assertBothRefused('price.unavailable');
    const afterRefusals = await stack.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM intents WHERE status <> 'rejected'",
    );
    assert.equal(afterRefusals.rows[0]!.n, before.rows[0]!.n, 'no intent went past its decision while the read failed');

    // The feed's own code back: the same address prices again.
    await anvil.setCode({ address: feed, bytecode: feedCode });
    const again = await until(
      () => send(UNIT_RECIPIENT, '0.5'),
      (r) => r.status === 201,
      'the restored feed',
    );
    assert.equal(again.body.decision.money.valueUsd, '1000');
  });

  test('only owners and admins may change the asset registry: 403 forbidden for the others and for agents', async () => {
    await priceNative({ kind: 'static', usd: '2000' });
    const hostile = { symbol: 'ETH', decimals: 18, price: { kind: 'static', usd: '1000000' } };
    for (const role of ['viewer', 'operator', 'approver'] as const) {
      const res = await callJson(
        stack.baseUrl,
        await stack.loginAs(role),
        'PUT',
        '/admin/assets/31337/native',
        hostile,
      );
      assert.deepEqual([res.status, res.body.code], [403, 'forbidden'], role);
    }
    // An agent must never price its own spending.
    const byAgent = await callJson(stack.baseUrl, agent, 'PUT', '/admin/assets/31337/native', hostile);
    assert.deepEqual([byAgent.status, byAgent.body.code], [403, 'forbidden']);

    const assets = await callJson(stack.baseUrl, owner, 'GET', '/admin/assets');
    const native = assets.body.items.find((a: { asset: string }) => a.asset === 'native');
    assert.deepEqual(native.priceSource, { kind: 'static', usd: '2000', maxAgeSeconds: null }, 'nothing changed');

    const byAdmin = await callJson(stack.baseUrl, await stack.loginAs('admin'), 'PUT', '/admin/assets/31337/native', {
      symbol: 'ETH',
      decimals: 18,
      price: { kind: 'static', usd: '2000' },
    });
    assert.equal(byAdmin.status, 200, JSON.stringify(byAdmin.body));
  });

  test('the native coin must have 18 decimals: 400 invalid_request', async () => {
    for (const decimals of [6, 0, 8, 19]) {
      const res = await callJson(stack.baseUrl, owner, 'PUT', '/admin/assets/31337/native', {
        symbol: 'ETH',
        decimals,
        price: { kind: 'static', usd: '2000' },
      });
      assert.deepEqual(
        [res.status, res.body.code, res.body.details],
        [400, 'invalid_request', { field: 'decimals' }],
        `decimals ${decimals}`,
      );
    }
    const zero = await callJson(stack.baseUrl, owner, 'PUT', '/admin/assets/31337/native', {
      symbol: 'ETH',
      decimals: 18,
      price: { kind: 'static', usd: '0' },
    });
    assert.deepEqual([zero.status, zero.body.code], [400, 'invalid_amount']);
    const assets = await callJson(stack.baseUrl, owner, 'GET', '/admin/assets');
    assert.equal(assets.body.items.find((a: { asset: string }) => a.asset === 'native').decimals, 18);
  });
});

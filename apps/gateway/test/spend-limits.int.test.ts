import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPIENTS, callJson, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';

/**
 * Spend limits under real parallel load, through two gateway processes. Anvil's ETH is priced at 1 USD here, so an
 * intent of 10 ETH is worth 10 USD and its worst-case fee (21,000 gas × at most ~120 gwei ≈ 0.0025 USD) is small but
 * counted: reservations are value + worst-case fee, so the 1,000 USD limit carries a 0.5 USD fee allowance
 * (1,000.5 USD). 100 intents cost at most about 1,000.25 USD and fit; a 101st would need over 1,010 USD.
 */
const LIMIT_USD = '1000.5';
const LIMIT_MICROS = 1_000_500_000n;
const ROUNDS = Number(process.env.SPEND_ROUNDS ?? 20);

describe('spend limits hold under concurrency, across processes', () => {
  let stack: Stack;
  let owner: string;
  let other: { baseUrl: string; stop(): Promise<void> };

  before(async () => {
    // A 100 gwei base fee: the worst-case fee (1.2 × base + tip) is then visibly above what a receipt pays. Mixed
    // mining (a block on every transaction, and one a second besides): under 200 concurrent broadcasts arriving out of
    // nonce order, anvil's automine alone now and then leaves ready transactions unmined until the next transaction
    // arrives (seen here: nonces 921–1,000 waiting behind a ready 921; foundry-rs/foundry#10122). A real chain always
    // mines a next block; so does this one.
    stack = await startStack({
      env: { DEV_NATIVE_PRICE_USD: '1' },
      anvilArgs: { blockTime: 1, extraArgs: ['--base-fee', '100000000000', '--mixed-mining'] },
      signerHdKeys: 1, // a key of its own for the reservation test, away from the 4,000 transactions of the rounds
    });
    owner = await stack.loginAs('owner');
    other = await stack.spawnGateway();
    // 20 rounds × 100 approved × 10 ETH, twice: give the signer key plenty (anvil's dev RPC, test funds only).
    await stack.chain.request({
      method: 'anvil_setBalance' as never,
      params: [stack.signerAddress, '0x' + (10n ** 27n).toString(16)] as never,
    });
  });
  after(async () => stack?.stop());

  /** What the database and the chain say of an intent that did not settle: the failure message of a bounded wait. */
  async function whereIs(id: string): Promise<string> {
    const row = (await stack.pool.query(`SELECT status, nonce, tx_hash FROM intents WHERE id = $1`, [id])).rows[0];
    const inFlight = (
      await stack.pool.query(
        `SELECT status, count(*)::int AS n FROM intents WHERE status IN ('approved', 'signed', 'submitted') GROUP BY status`,
      )
    ).rows;
    const receipt = row?.tx_hash
      ? await stack.chain.getTransactionReceipt({ hash: row.tx_hash }).then(
          (r) => `mined in ${r.blockNumber}`,
          () => 'no receipt',
        )
      : 'no transaction';
    const [head, latest, pending] = await Promise.all([
      stack.chain.getBlockNumber(),
      stack.chain.getTransactionCount({ address: stack.signerAddress }),
      stack.chain.getTransactionCount({ address: stack.signerAddress, blockTag: 'pending' }),
    ]);
    return `row ${JSON.stringify(row)}, ${receipt}; in flight ${JSON.stringify(inFlight)}; head ${head}, nonce ${latest} mined / ${pending} pending`;
  }

  /** Send `count` 10 USD intents for each token, alternating between the two gateway processes; resolve all answers. */
  async function burst(tokens: string[], count: number): Promise<{ status: number; body: any }[]> {
    const sends: Promise<{ status: number; body: any }>[] = [];
    for (let i = 0; i < count; i++) {
      const baseUrl = i % 2 === 0 ? stack.baseUrl : other.baseUrl;
      const token = tokens[i % tokens.length]!;
      sends.push(
        postIntent(baseUrl, token, {
          type: 'transfer',
          chainId: 31337,
          to: RECIPIENTS[i % 3]!,
          asset: 'native',
          amount: '10',
        }),
      );
    }
    return Promise.all(sends);
  }

  function tally(results: { status: number; body: any }[]): { approved: number; limited: number; other: string[] } {
    let approved = 0;
    let limited = 0;
    const other: string[] = [];
    for (const r of results) {
      if ((r.status === 201 || r.status === 202) && r.body.decision.action === 'auto_approve') approved += 1;
      else if (
        r.status === 403 &&
        r.body.intent?.decision.reasons.some((x: { code: string }) => x.code === 'spend.limit_exceeded')
      )
        limited += 1;
      else other.push(`${r.status} ${r.body.code ?? r.body.status}`);
    }
    return { approved, limited, other };
  }

  test('200 concurrent 10 USD intents against a 1,000 USD agent daily limit approve exactly 100, 20 times over', async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const agent = await stack.newAgent(`limit-round-${round}`);
      const set = await callJson(stack.baseUrl, owner, 'PUT', '/admin/costs/limits', {
        scope: `agent:${agent.agentId}`,
        dailyLimitUsd: LIMIT_USD,
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const token = await stack.token(agent.apiKey);
      const results = await burst([token], 200);
      const t = tally(results);
      assert.deepEqual(t, { approved: 100, limited: 100, other: [] }, `round ${round}`);

      const { rows } = await stack.pool.query<{ spent: string; buckets: string }>(
        `SELECT (SELECT COALESCE(sum(spend_usd_micros), 0) FROM intents WHERE agent_id = $1 AND spend_state <> 'released') AS spent,
                (SELECT COALESCE(sum(usd_micros), 0) FROM spend_minutes WHERE scope = 'agent:' || $1) AS buckets`,
        [agent.agentId],
      );
      assert.ok(
        BigInt(rows[0]!.spent) <= LIMIT_MICROS,
        `round ${round}: recorded spend ${rows[0]!.spent} exceeds the limit`,
      );
      assert.ok(
        BigInt(rows[0]!.buckets) <= LIMIT_MICROS,
        `round ${round}: bucket total ${rows[0]!.buckets} exceeds the limit`,
      );
      assert.ok(BigInt(rows[0]!.spent) >= 1_000_000_000n, 'the 100 approved intents are all recorded');

      // The refusal tells the agent what is left and when the window frees up.
      const refused = results.find((r) => r.status === 403)!;
      const budget = refused.body.intent.decision.money.budgets.find(
        (b: { scope: string; window: string }) => b.scope === 'agent' && b.window === '24h',
      );
      assert.equal(budget.limitUsd, LIMIT_USD);
      assert.ok(Number(budget.remainingUsd) < 10);
      assert.ok(Date.parse(budget.freesAt) > Date.now() + 23 * 3_600_000);
    }
  });

  test('the same with a limit shared by two agents (global scope), 20 times over', async () => {
    const a = await stack.newAgent('shared-a');
    const b = await stack.newAgent('shared-b');
    const tokens = [await stack.token(a.apiKey), await stack.token(b.apiKey)];
    for (let round = 1; round <= ROUNDS; round++) {
      // The global window holds every earlier round: each round's limit is what is spent so far plus 1,000.5 USD.
      const costs = await callJson(stack.baseUrl, owner, 'GET', '/admin/costs');
      const global = costs.body.scopes.find((s: { scope: string }) => s.scope === 'global');
      const spentMicros = BigInt(Math.round(Number(global.spend.dayUsd) * 1e6));
      const limit = spentMicros + LIMIT_MICROS;
      const set = await callJson(stack.baseUrl, owner, 'PUT', '/admin/costs/limits', {
        scope: 'global',
        dailyLimitUsd: (Number(limit) / 1e6).toFixed(6),
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const results = await burst(tokens, 200);
      const t = tally(results);
      assert.deepEqual(t, { approved: 100, limited: 100, other: [] }, `round ${round}`);
      const { rows } = await stack.pool.query<{ total: string }>(
        `SELECT COALESCE(sum(usd_micros), 0) AS total FROM spend_minutes WHERE scope = 'global'`,
      );
      assert.ok(BigInt(rows[0]!.total) <= limit, `round ${round}: global spend ${rows[0]!.total} exceeds ${limit}`);
    }
    await callJson(stack.baseUrl, owner, 'PUT', '/admin/costs/limits', { scope: 'global', dailyLimitUsd: null });
  });

  test('a reservation is released when the signer is down, and trued up from the receipt', async (t) => {
    // Its own key: its transaction does not queue behind the 4,000 the rounds above left on the stack's key. Those
    // arrive faster than one address's nonces can be mined on a congested chain, and drain only as speed-ups and the
    // base fee allow — a congestion this test is not about (under CI load, waiting for it once took over 10 minutes).
    const agent = await stack.newAgent('reservations', stack.signerHdAddresses[0]);
    const token = await stack.token(agent.apiKey);
    const spendOf = async (): Promise<bigint> => {
      const { rows } = await stack.pool.query<{ total: string }>(
        `SELECT COALESCE(sum(usd_micros), 0) AS total FROM spend_minutes WHERE scope = $1`,
        [`agent:${agent.agentId}`],
      );
      return BigInt(rows[0]!.total);
    };

    // At 2,000 USD/ETH the gap between worst-case and paid fee is visible in micro-dollars (at 1 USD/ETH it rounds away).
    const priced = await callJson(stack.baseUrl, owner, 'PUT', '/admin/assets/31337/native', {
      symbol: 'ETH',
      decimals: 18,
      price: { kind: 'static', usd: '2000' },
    });
    assert.equal(priced.status, 200, JSON.stringify(priced.body));
    t.after(() =>
      callJson(stack.baseUrl, owner, 'PUT', '/admin/assets/31337/native', {
        symbol: 'ETH',
        decimals: 18,
        price: { kind: 'static', usd: '1' },
      }),
    );
    await stack.signer.stop();
    const down = await postIntent(stack.baseUrl, token, {
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[0],
      asset: 'native',
      amount: '0.005',
    });
    assert.deepEqual([down.status, down.body.code], [503, 'signer_unavailable']);
    assert.equal(down.body.intent.decision.action, 'auto_approve');
    assert.ok(
      Number(down.body.intent.decision.money.reservedUsd) > 10,
      'value + worst-case fee was reserved at decision',
    );
    const released = await stack.pool.query(`SELECT spend_state, spend_usd_micros FROM intents WHERE id = $1`, [
      down.body.intent.id,
    ]);
    assert.deepEqual(released.rows[0], { spend_state: 'released', spend_usd_micros: '0' });
    assert.equal(await spendOf(), 0n, 'nothing counts against the budget');
    await stack.restartSigner();

    const ok = await postIntent(stack.baseUrl, token, {
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[0],
      asset: 'native',
      amount: '0.005',
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const reserved = BigInt(Math.round(Number(ok.body.decision.money.reservedUsd) * 1e6));
    // The 40 rounds above leave thousands of intents to settle; the tracker sweeps them a second a tick and follows new
    // blocks in between, so this one settles whatever the backlog (12-track.ts).
    await waitForStatus(stack.baseUrl, token, ok.body.id, ['confirmed'], 600).catch(async (error: Error) => {
      throw new Error(`${error.message}; ${await whereIs(ok.body.id)}`);
    });
    // The tracker settles spend right after recording the receipt; poll the row until it has.
    let row:
      | {
          spend_state: string;
          spend_usd_micros: string;
          gas_used: string;
          effective_gas_price: string;
          max_fee_per_gas: string;
        }
      | undefined;
    for (let i = 0; i < 600; i++) {
      row = (
        await stack.pool.query(
          `SELECT spend_state, spend_usd_micros, gas_used, effective_gas_price, max_fee_per_gas FROM intents WHERE id = $1`,
          [ok.body.id],
        )
      ).rows[0];
      if (row?.spend_state === 'settled') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(row!.spend_state, 'settled');
    assert.ok(
      BigInt(row!.effective_gas_price) < BigInt(row!.max_fee_per_gas),
      'the receipt paid less than the worst case',
    );
    const settled = BigInt(row!.spend_usd_micros);
    // 10 USD value + gas used × effective price at 2,000 USD/ETH, rounded up to the micro-dollar.
    const fee = BigInt(row!.gas_used) * BigInt(row!.effective_gas_price);
    assert.equal(settled, 10_000_000n + (fee === 0n ? 0n : (fee * 2_000_000_000n - 1n) / 10n ** 18n + 1n));
    assert.ok(settled < reserved, `trued up from ${reserved} down to ${settled}`);
    assert.equal(await spendOf(), settled, 'the buckets hold the settled amount');
  });

  test('with Redis unreachable, requests are served and a spend limit still denies', async () => {
    const agent = await stack.newAgent('redis-down');
    await callJson(stack.baseUrl, owner, 'PUT', '/admin/costs/limits', {
      scope: `agent:${agent.agentId}`,
      dailyLimitUsd: '15',
    });
    // A gateway process whose Redis is a closed port: rate limiting fails open; spend limits live in Postgres.
    const noRedis = await stack.spawnGateway({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const token = await stack.token(agent.apiKey);
      const first = await postIntent(noRedis.baseUrl, token, {
        type: 'transfer',
        chainId: 31337,
        to: RECIPIENTS[0],
        asset: 'native',
        amount: '10',
      });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      const second = await postIntent(noRedis.baseUrl, token, {
        type: 'transfer',
        chainId: 31337,
        to: RECIPIENTS[0],
        asset: 'native',
        amount: '10',
      });
      assert.equal(second.status, 403);
      assert.ok(second.body.intent.decision.reasons.some((r: { code: string }) => r.code === 'spend.limit_exceeded'));
    } finally {
      await noRedis.stop();
    }
  });
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Hex } from 'viem';
import { GATEWAY_FAULT_POINTS, type FaultPointName } from '@clawd402/protocol';
import { verifyAuditChain } from '../src/repositories/audit-repository.ts';
import { spawnCrashableGateway, type CrashableGateway } from './support/gateway-process.ts';
import { nativeTransfer, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';

/**
 * Crashes at every named point of the signing path (docs/recovery.md, "Crashes"). Real processes: two gateway
 * processes armed with FAULT_POINT take a stream of intents, each SIGKILLs itself when it reaches the point and is
 * replaced by a fresh armed one, until the point has killed CRASH_REPETITIONS processes (default 2 in the suite: one per lane; the
 * acceptance run is CRASH_REPETITIONS=20, docs/recovery.md). Then a clean
 * gateway starts, reconciliation runs, and what a user relies on is checked: every Idempotency-Key answers one intent
 * (the one it first answered), every intent ends in a terminal state, exactly one mined transaction per nonce and
 * every mined one stored with its `intent.signed` audit record (no stray signature left the gateway), no intent
 * mined twice, spend closed (settled if mined, released if not) and the spend buckets (minutes and hours) equal to the intents' spend,
 * the audit chain intact, and a later intent still mines (no nonce gap). The signer is killed the same way
 * (SIGNER_FAULT_POINT) after it signed, on the first request and in the middle of a batch.
 */
const REPETITIONS = Number(process.env['CRASH_REPETITIONS'] ?? '2');
/** Intents sent to one armed process before it is given up on (the point was not reached): bounds every loop. */
const SENDS_PER_PROCESS = 8;
const OPEN_STATUSES = ['pending_approval', 'approved', 'signed', 'submitted'];

interface Sent {
  key: string;
  body: ReturnType<typeof nativeTransfer>;
  /** The intent the first request answered, when the answer got out before the kill. */
  firstId: string | null;
}

/** The intent an answer carries: the intent itself (2xx), or `intent` of an error that recorded one (docs/errors.md). */
const intentIdOf = (body: { id?: string; intent?: { id?: string } } | null): string | null =>
  body?.id ?? body?.intent?.id ?? null;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// About 14 s a kill on an idle machine; the bound scales with the repetitions so a hang still fails.
const TIMEOUT_MS = 600_000 + REPETITIONS * 11 * 45_000;

describe('crashes at named points of the signing path', { timeout: TIMEOUT_MS }, () => {
  let stack: Stack;
  before(async () => {
    // No tracker in the test's own process: the gateway processes under test are the only ones following the chain.
    stack = await startStack({ tracker: false });
  });
  after(async () => {
    await stack?.stop();
  });

  async function agentToken(): Promise<{ agentId: string; token: string }> {
    const agent = await stack.newAgent();
    return { agentId: agent.agentId, token: await stack.token(agent.apiKey) };
  }

  /** POST one intent with a fresh Idempotency-Key; a request cut by the kill is remembered all the same. */
  async function send(baseUrl: string, token: string, sent: Sent[]): Promise<void> {
    const entry: Sent = { key: randomUUID(), body: nativeTransfer(), firstId: null };
    sent.push(entry);
    try {
      const res = await postIntent(baseUrl, token, entry.body, { 'idempotency-key': entry.key });
      entry.firstId = intentIdOf(res.body);
    } catch {
      /* the process died under the request */
    }
  }

  /**
   * Two lanes, each running one armed gateway process at a time and sending it intents until it dies; a dead one is
   * replaced. Answers how many processes the point killed.
   */
  async function killGateways(point: FaultPointName, token: string, sent: Sent[]): Promise<number> {
    let kills = 0;
    let starts = 0;
    const lane = async (): Promise<void> => {
      while (kills < REPETITIONS && starts < REPETITIONS * 3) {
        starts += 1;
        const gateway = await spawnCrashableGateway(stack, { FAULT_POINT: point });
        let ended = false;
        void gateway.exited.then(() => (ended = true));
        for (let i = 0; gateway.baseUrl !== null && i < SENDS_PER_PROCESS && !ended; i++) {
          await send(gateway.baseUrl, token, sent);
          // The settle points are reached by the process's tracker once the block is read: give it a few ticks.
          if (point.startsWith('settle.')) await Promise.race([gateway.exited, sleep(1_500)]);
        }
        const how = await Promise.race([gateway.exited, sleep(3_000).then(() => 'alive' as const)]);
        if (how === 'SIGKILL') kills += 1;
        else await gateway.stop();
      }
    };
    await Promise.all([lane(), lane()]);
    return kills;
  }

  /** Run `fn` over `items`, `width` at a time. */
  async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: width }, async () => {
        while (next < items.length) await fn(items[next++]!);
      }),
    );
  }

  /**
   * After the kills: retries, reconciliation, and the invariants. `gateway` is a clean process; `since` is when the
   * kills began (intents left `approved` by a dead process are failed closed from then on, as the tracker does after
   * ten minutes in production).
   */
  async function assertRecovered(gateway: CrashableGateway, agentId: string, token: string, sent: Sent[]) {
    const baseUrl = gateway.baseUrl!;
    const restartedAt = Date.now();
    // Every Idempotency-Key, retried twice, answers one intent: the one its first request answered, if any did.
    const answered = new Map<string, string>();
    await inParallel(sent, 4, async (entry) => {
      const first = await postIntent(baseUrl, token, entry.body, { 'idempotency-key': entry.key });
      const id = intentIdOf(first.body);
      assert.ok(id, `a retry answers an intent: ${first.status} ${JSON.stringify(first.body)}`);
      if (entry.firstId !== null) assert.equal(id, entry.firstId, 'a retry answers the intent first made');
      const second = await postIntent(baseUrl, token, entry.body, { 'idempotency-key': entry.key });
      assert.equal(intentIdOf(second.body), id, 'two retries answer one intent');
      answered.set(entry.key, id);
    });
    assert.equal(new Set(answered.values()).size, sent.length, 'one intent per Idempotency-Key');

    // An intent a dead process left `approved` never gets signed: it fails closed (signing_abandoned).
    await stack.app.services.tracker.failAbandoned(Date.now() - restartedAt);

    // Reconciliation (the clean process's tracker): every intent ends and its spend is closed (bounded wait).
    let open = -1;
    for (let i = 0; i < 300 && open !== 0; i++) {
      if (i > 0) await sleep(200);
      const { rows } = await stack.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM intents WHERE agent_id = $1
            AND (status = ANY($2::text[]) OR spend_state IN ('reserved', 'committed'))`,
        [agentId, OPEN_STATUSES],
      );
      open = rows[0]!.n;
    }
    assert.equal(open, 0, 'every intent ended and its spend was closed');

    // The chain: every mined transaction from the signer is one the gateway stored, with its audit record; one per
    // nonce; no intent mined twice; every confirmed intent's transaction is the mined one at its nonce.
    const attempts = await stack.pool.query<{ tx_hash: Hex; intent_id: string | null; nonce: string; kind: string }>(
      'SELECT tx_hash, intent_id, nonce, kind FROM intent_transactions WHERE from_address = $1',
      [stack.signerAddress],
    );
    const mined: { hash: Hex; intentId: string | null; nonce: number }[] = [];
    for (const a of attempts.rows) {
      const receipt = await stack.chain.getTransactionReceipt({ hash: a.tx_hash }).catch(() => null);
      if (receipt) mined.push({ hash: a.tx_hash, intentId: a.intent_id, nonce: Number(a.nonce) });
    }
    const onChain = await stack.chain.getTransactionCount({ address: stack.signerAddress, blockTag: 'latest' });
    assert.equal(mined.length, onChain, 'every transaction the signer key sent is one the gateway stored');
    assert.equal(new Set(mined.map((m) => m.nonce)).size, onChain, 'exactly one mined transaction per nonce');
    const minedIntents = mined.filter((m) => m.intentId !== null).map((m) => m.intentId!);
    assert.equal(new Set(minedIntents).size, minedIntents.length, 'no intent mined twice');
    const signedAudit = await stack.pool.query<{ hash: string }>(
      `SELECT lower((record::jsonb)->'data'->>'txHash') AS hash FROM audit_log WHERE action = 'intent.signed'`,
    );
    const audited = new Set(signedAudit.rows.map((r) => r.hash));
    const originals = new Set(attempts.rows.filter((a) => a.kind === 'original').map((a) => a.tx_hash.toLowerCase()));
    for (const m of mined)
      if (originals.has(m.hash.toLowerCase()))
        assert.ok(audited.has(m.hash.toLowerCase()), `mined ${m.hash} has its intent.signed audit record`);

    // Each of this agent's intents: confirmed ones are the mined transaction and their spend settled; the rest
    // never reached the chain and their reservation was released.
    const minedById = new Map(mined.filter((m) => m.intentId !== null).map((m) => [m.intentId!, m]));
    const intents = await stack.pool.query<{ id: string; status: string; tx_hash: string | null; spend_state: string }>(
      'SELECT id, status, tx_hash, spend_state FROM intents WHERE agent_id = $1',
      [agentId],
    );
    for (const row of intents.rows) {
      const tx = minedById.get(row.id);
      if (row.status === 'confirmed') {
        assert.equal(tx?.hash.toLowerCase(), row.tx_hash?.toLowerCase(), `confirmed ${row.id} is what was mined`);
        assert.ok([null, 'settled'].includes(row.spend_state), `confirmed ${row.id}: spend ${row.spend_state}`);
      } else {
        assert.equal(tx, undefined, `${row.status} ${row.id} has nothing mined`);
        assert.ok([null, 'released'].includes(row.spend_state), `${row.status} ${row.id}: spend ${row.spend_state}`);
      }
    }
    // Spend counted once: the agent's buckets, minutes and hours alike, hold exactly what its intents still count.
    const spend = await stack.pool.query<{
      buckets: string;
      intents: string;
      bucket_count: string;
      counted: string;
      hours: string;
      hour_count: string;
    }>(
      `SELECT (SELECT coalesce(sum(usd_micros), 0) FROM spend_minutes WHERE scope = 'agent:' || $1::text) AS buckets,
              (SELECT coalesce(sum(count), 0) FROM spend_minutes WHERE scope = 'agent:' || $1::text) AS bucket_count,
              (SELECT coalesce(sum(usd_micros), 0) FROM spend_hours WHERE scope = 'agent:' || $1::text) AS hours,
              (SELECT coalesce(sum(count), 0) FROM spend_hours WHERE scope = 'agent:' || $1::text) AS hour_count,
              (SELECT coalesce(sum(spend_usd_micros), 0) FROM intents
                WHERE agent_id = $1::uuid AND spend_state IN ('reserved', 'committed', 'settled')) AS intents,
              (SELECT count(*) FROM intents
                WHERE agent_id = $1::uuid AND spend_state IN ('reserved', 'committed', 'settled')) AS counted`,
      [agentId],
    );
    assert.equal(spend.rows[0]!.buckets, spend.rows[0]!.intents, 'recorded spend equals the intents that count');
    assert.equal(spend.rows[0]!.bucket_count, spend.rows[0]!.counted);
    assert.equal(spend.rows[0]!.hours, spend.rows[0]!.intents, 'the hour rows the windows read hold the same');
    assert.equal(spend.rows[0]!.hour_count, spend.rows[0]!.counted);

    const audit = await verifyAuditChain(stack.pool);
    assert.deepEqual(audit.findings, []);
    assert.equal(audit.ok, true);

    // No nonce gap: a later intent still mines.
    const later = await postIntent(baseUrl, token, nativeTransfer());
    assert.equal(later.status, 201, JSON.stringify(later.body));
    assert.equal((await waitForStatus(baseUrl, token, later.body.id, ['confirmed', 'failed'])).status, 'confirmed');
    return intents.rows;
  }

  for (const point of GATEWAY_FAULT_POINTS) {
    test(`gateway SIGKILLed at ${point} (${REPETITIONS}×, two processes): a clean restart recovers every intent`, async () => {
      const { agentId, token } = await agentToken();
      const sent: Sent[] = [];
      const started = Date.now();
      const kills = await killGateways(point, token, sent);
      const killed = Date.now();
      assert.ok(kills >= REPETITIONS, `the point killed ${kills} processes`);
      const restarted = await spawnCrashableGateway(stack, {});
      try {
        assert.ok(restarted.baseUrl, 'the clean gateway starts');
        const rows = await assertRecovered(restarted, agentId, token, sent);
        const took = (from: number, to = Date.now()): string => `${((to - from) / 1000).toFixed(1)} s`;
        process.stderr.write(
          `${point}: ${kills} kills in ${took(started, killed)}, recovered and checked in ${took(killed)}; ` +
            `${sent.length} intents sent, ${rows.length} recorded\n`,
        );
      } finally {
        await restarted.stop();
      }
    });
  }

  for (const point of ['signer.after_sign', 'signer.after_sign:2']) {
    test(`signer SIGKILLed at ${point} (${REPETITIONS}×): no stray signature leaves, the nonce is reused, intents recover`, async () => {
      const { agentId, token } = await agentToken();
      const sent: Sent[] = [];
      const gateways = [await spawnCrashableGateway(stack, {}), await spawnCrashableGateway(stack, {})];
      try {
        let kills = 0;
        for (let round = 0; kills < REPETITIONS && round < REPETITIONS * 3; round++) {
          await stack.restartSigner({ NODE_ENV: 'test', SIGNER_FAULT_POINT: point });
          const child = stack.signer.child;
          const exited = new Promise<string | number | null>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode ?? child.exitCode);
            else child.once('exit', (code, signal) => resolve(signal ?? code));
          });
          let ended = false;
          void exited.then(() => (ended = true));
          // Both gateways at once, two intents each: batches of more than one, so `:2` dies mid-batch.
          for (let i = 0; i < SENDS_PER_PROCESS && !ended; i++)
            await Promise.all(gateways.flatMap((g) => [send(g.baseUrl!, token, sent), send(g.baseUrl!, token, sent)]));
          if ((await Promise.race([exited, sleep(3_000).then(() => 'alive')])) === 'SIGKILL') kills += 1;
        }
        assert.ok(kills >= REPETITIONS, `the point killed the signer ${kills} times`);
        await stack.restartSigner();
        const rows = await assertRecovered(gateways[0]!, agentId, token, sent);
        process.stderr.write(`${point}: ${kills} kills, ${sent.length} intents sent, ${rows.length} recorded\n`);
      } finally {
        for (const g of gateways) await g.stop();
      }
    });
  }
});

// Stage 10's lanes across addresses (README, Nonces; 10-sign.ts): one signing transaction holds several addresses of one chain,
// each address keeps its own consecutive nonces, and a failed signature holds back only its own address. The chain's
// pending count wins when it is ahead of Postgres (a key used elsewhere), and a batch whose count cannot be read
// signs and stores nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseGwei, type Address } from 'viem';
import { TicketIssuer, loadTicketPrivateKey } from '@clawd402/signer-client';
import { SigningLanes } from '../src/intent-path/10-sign.ts';
import { SigningLaneKeys } from '../src/intent-path/signing-lane-keys.ts';
import type { ChainRegistry } from '../src/chain/chain-registry.ts';
import type { IntentRecord } from '../src/domain/intent.ts';
import { findIntent } from '../src/repositories/intents-repository.ts';
import { RECIPIENTS, insertApprovedTransfer, startStack, type Stack } from './support/stack.ts';

const FEES = { maxFeePerGas: parseGwei('2'), maxPriorityFeePerGas: parseGwei('1') };

describe('signing lanes across addresses', { timeout: 180_000 }, () => {
  let stack: Stack;
  /** Two HD addresses that share a lane, each with its own agent. */
  let pair: { agentId: string; from: Address }[];
  let tickets: TicketIssuer;

  before(async () => {
    // Eight keys in four shared lanes: at least two of them share one.
    stack = await startStack({ tracker: false, signerHdKeys: 8 });
    const lanes = new SigningLaneKeys({
      listKeys: async () => ({
        keys: stack.signerHdAddresses.map((address) => ({ address, backend: 'hd' }) as never),
      }),
    });
    await lanes.relist();
    const byLane = new Map<string, Address[]>();
    for (const address of stack.signerHdAddresses)
      byLane.set(lanes.laneOf(31337, address), [...(byLane.get(lanes.laneOf(31337, address)) ?? []), address]);
    const shared = [...byLane.values()].find((addresses) => addresses.length >= 2)!;
    pair = [];
    for (const from of shared.slice(0, 2))
      pair.push({ agentId: (await stack.newAgent(undefined, from)).agentId, from });
    tickets = new TicketIssuer({
      privateKey: loadTicketPrivateKey(readFileSync(stack.env.TICKET_PRIVATE_KEY_FILE!, 'utf8')),
      keyId: 'gateway-1',
    });
  });
  after(async () => stack?.stop());

  type PendingNonce = ChainRegistry['pendingNonce'];
  /** The stack's chains, with the chain's pending count read through `pendingNonce` when one is given. */
  const chainsWith = (pendingNonce?: PendingNonce): ChainRegistry => {
    const real = stack.app.services.chains;
    if (!pendingNonce) return real;
    return new Proxy(real, {
      get: (target, key) => {
        if (key === 'pendingNonce') return pendingNonce;
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  /** Signing lanes on the stack's real signer, whose ticket issuer refuses `refuse(from)`'s ticket when it says so. */
  const lanesWith = async (refuse: (from: string) => boolean = () => false, pendingNonce?: PendingNonce) => {
    const lanes = new SigningLanes({
      pool: stack.pool,
      chains: chainsWith(pendingNonce),
      tickets: {
        issue: (params: Parameters<TicketIssuer['issue']>[0]) =>
          refuse(params.signerKeyId) ? Promise.reject(new Error('ticket refused by the test')) : tickets.issue(params),
      } as TicketIssuer,
      signer: stack.app.services.signer,
      log: stack.app.log,
    });
    await lanes.keysListed();
    return lanes;
  };
  /** Queue every intent on `lanes` in one tick, so all but the first go in one batch; settle each. */
  const signAll = async (lanes: SigningLanes, ids: string[]) => {
    const intents = await Promise.all(ids.map(async (id) => (await findIntent(stack.pool, id))!));
    return Promise.allSettled(
      intents.map((intent) =>
        lanes.sign({ intent, call: { to: RECIPIENTS[0]!, value: 1n, data: '0x' }, gas: 21_000n, fees: FEES }),
      ),
    );
  };
  const nextNonce = async (from: Address) =>
    (await stack.pool.query('SELECT next_nonce::int AS n FROM nonces WHERE address = $1', [from])).rows[0]?.n ?? 0;
  const rowsOf = async (ids: string[]) =>
    (
      await stack.pool.query<{ id: string; from_address: string; nonce: number | null; status: string; at: Date }>(
        'SELECT id, from_address, nonce::int AS nonce, status, updated_at AS at FROM intents WHERE id = ANY($1::uuid[])',
        [ids],
      )
    ).rows;

  test('one signing transaction holds both addresses, and each takes its own consecutive nonces', async () => {
    const [a, b] = pair as [(typeof pair)[0], (typeof pair)[0]];
    const [a0, b0] = [await nextNonce(a.from), await nextNonce(b.from)];
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push(await insertApprovedTransfer(stack, a), await insertApprovedTransfer(stack, b));

    const outcomes = await signAll(await lanesWith(), ids);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ids.map(() => 'fulfilled'),
    );
    // What a batch returns is the row Postgres holds (its unchanged columns come from the locked row, not a re-read).
    for (const outcome of outcomes) {
      const signed = (outcome as PromiseFulfilledResult<IntentRecord>).value;
      assert.equal(signed.status, 'signed');
      assert.deepEqual(signed, await findIntent(stack.pool, signed.id));
    }
    const rows = await rowsOf(ids);
    const noncesOf = (from: Address) =>
      rows
        .filter((r) => r.from_address.toLowerCase() === from.toLowerCase())
        .map((r) => r.nonce)
        .sort((x, y) => x! - y!);
    assert.deepEqual(noncesOf(a.from), [a0, a0 + 1, a0 + 2, a0 + 3]);
    assert.deepEqual(noncesOf(b.from), [b0, b0 + 1, b0 + 2, b0 + 3]);
    assert.equal(await nextNonce(a.from), a0 + 4);
    assert.equal(await nextNonce(b.from), b0 + 4);
    // Rows written in one transaction share its timestamp: some transaction signed for both addresses.
    const addressesPerTransaction = new Map<number, Set<string>>();
    for (const r of rows)
      addressesPerTransaction.set(
        r.at.getTime(),
        (addressesPerTransaction.get(r.at.getTime()) ?? new Set()).add(r.from_address),
      );
    assert.ok(
      [...addressesPerTransaction.values()].some((addresses) => addresses.size === 2),
      'no signing transaction held both addresses',
    );
    const audited = await stack.pool.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'intent.signed' AND subject = ANY($1::text[])`,
      [ids.map((id) => `intent:${id}`)],
    );
    assert.equal(audited.rows[0].n, 8, 'one intent.signed record per intent');
  });

  test("a failed signature holds back only its own address: its later intents are signed again at its next nonce, the other's are kept", async () => {
    const [a, b] = pair as [(typeof pair)[0], (typeof pair)[0]];
    const [a0, b0] = [await nextNonce(a.from), await nextNonce(b.from)];
    const bFirst = await insertApprovedTransfer(stack, b);
    const aIds = [
      await insertApprovedTransfer(stack, a),
      await insertApprovedTransfer(stack, a),
      await insertApprovedTransfer(stack, a),
    ];
    const bIds = [await insertApprovedTransfer(stack, b), await insertApprovedTransfer(stack, b)];
    let refusals = 0;
    // The first ticket for `a` is refused; every later one is issued.
    const lanes = await lanesWith((from) => from.toLowerCase() === a.from.toLowerCase() && refusals++ === 0);

    const outcomes = await signAll(lanes, [bFirst, ...aIds, ...bIds]);
    assert.equal(outcomes[1]!.status, 'rejected');
    assert.equal((outcomes[1]!.reason as Error).message, 'ticket refused by the test');
    assert.deepEqual(
      outcomes.filter((_, i) => i !== 1).map((o) => o.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    );
    const rows = new Map((await rowsOf([bFirst, ...aIds, ...bIds])).map((r) => [r.id, r]));
    assert.equal(rows.get(aIds[0]!)!.status, 'approved', 'the refused intent was not signed (the path fails it)');
    assert.equal(rows.get(aIds[0]!)!.nonce, null);
    assert.deepEqual(
      [rows.get(aIds[1]!)!.nonce, rows.get(aIds[2]!)!.nonce],
      [a0, a0 + 1],
      "a's later intents took its next nonces: no gap where the refused one was",
    );
    assert.deepEqual(
      [bFirst, ...bIds].map((id) => rows.get(id)!.nonce),
      [b0, b0 + 1, b0 + 2],
    );
    assert.equal(await nextNonce(a.from), a0 + 2);
    assert.equal(await nextNonce(b.from), b0 + 3);
  });

  /** One approved transfer for each address of the pair, and each address's next nonce before them. */
  const oneApprovedEach = async () => {
    const [a, b] = pair as [(typeof pair)[0], (typeof pair)[0]];
    const [a0, b0] = [await nextNonce(a.from), await nextNonce(b.from)];
    const ids = [await insertApprovedTransfer(stack, a), await insertApprovedTransfer(stack, b)];
    return { a, b, a0, b0, ids };
  };
  const assertBothSigned = (outcomes: PromiseSettledResult<IntentRecord>[]) =>
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled'],
    );

  test("the chain's pending count wins when it is ahead of Postgres", async () => {
    const { a, b, a0, b0, ids } = await oneApprovedEach();
    // The key of `a` signed three transactions elsewhere: the chain counts them, Postgres does not.
    const real = stack.app.services.chains;
    const lanes = await lanesWith(undefined, async (chainId, address) =>
      address.toLowerCase() === a.from.toLowerCase() ? a0 + 3 : real.pendingNonce(chainId, address),
    );
    const outcomes = await signAll(lanes, ids);
    assertBothSigned(outcomes);
    const rows = new Map((await rowsOf(ids)).map((r) => [r.id, r]));
    assert.equal(rows.get(ids[0]!)!.nonce, a0 + 3, "a's intent took the chain's count, not a nonce used elsewhere");
    assert.equal(rows.get(ids[1]!)!.nonce, b0);
    assert.equal(await nextNonce(a.from), a0 + 4);
    assert.equal(await nextNonce(b.from), b0 + 1);
  });

  test("when the chain's pending count cannot be read, nothing of the batch is signed or stored", async () => {
    const { a, b, a0, b0, ids } = await oneApprovedEach();
    const signed = async () =>
      (
        await stack.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM audit_log WHERE action = 'intent.signed' AND subject = ANY($1::text[])`,
          [ids.map((id) => `intent:${id}`)],
        )
      ).rows[0]!.n;
    let ticketsAsked = 0;
    const lanes = await lanesWith(
      () => {
        ticketsAsked += 1;
        return false;
      },
      () => Promise.reject(new Error('the chain did not answer (test)')),
    );
    const outcomes = await signAll(lanes, ids);
    assert.equal(ticketsAsked, 0, 'no ticket was minted: nothing reached the signer');
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.equal((outcome.reason as Error).message, 'the chain did not answer (test)');
    }
    for (const row of await rowsOf(ids)) {
      assert.equal(row.status, 'approved');
      assert.equal(row.nonce, null);
    }
    assert.equal(await signed(), 0, 'no intent.signed record');
    assert.equal(await nextNonce(a.from), a0, 'the nonce rows are as they were');
    assert.equal(await nextNonce(b.from), b0);
    // The same intents sign once the chain answers again, at the nonces they would have had.
    const retried = await signAll(await lanesWith(), ids);
    assertBothSigned(retried);
    const after = new Map((await rowsOf(ids)).map((r) => [r.id, r.nonce]));
    assert.deepEqual([after.get(ids[0]!), after.get(ids[1]!)], [a0, b0]);
    assert.equal(await signed(), 2);
  });
});

// Postgres stopped mid-stream (issue 18): the gateway runs against a private cluster (packages/testkit
// startPrivatePostgres; the machine's shared server is never stopped), a stream of transfers is running when
// `pg_ctl stop -m fast` cuts the database. Every intent sent while it is down is refused with a code, the signer signs
// nothing in that window (its own usage counters), nothing is broadcast, and traffic resumes once Postgres is back.
// Real anvil, Redis and signer process (support/stack.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignerClient } from '@clawd402/signer-client';
import { startPrivatePostgres, type PrivatePostgres } from '@clawd402/testkit';
import { nativeTransfer, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';

interface Outcome {
  /** When the request was sent and answered, relative to the outage (see `phase`). */
  sent: Phase;
  answered: Phase;
  status: number;
  code: string | null;
  id: string | null;
}
type Phase = 'up' | 'stopping' | 'down' | 'starting' | 'back';

describe('Postgres stopped mid-stream', { timeout: 300_000 }, () => {
  let pg: PrivatePostgres;
  let stack: Stack;
  let signer: SignerClient;

  before(async () => {
    pg = await startPrivatePostgres();
    stack = await startStack({ databaseAdminUrl: pg.adminUrl });
    signer = new SignerClient({ socketPath: stack.env.SIGNER_SOCKET! });
  });
  after(async () => {
    await signer?.close();
    // The database must be up for the stack to drop it.
    await pg?.start().catch(() => {});
    await stack?.stop();
    await pg?.destroy();
  });

  /** Everything the signer has signed with the stack's key (transactions, typed data, messages). */
  const signatures = async (): Promise<number> => {
    const key = (await signer.listKeys()).keys.find(
      (k) => k.address.toLowerCase() === stack.signerAddress.toLowerCase(),
    )!;
    return key.usage.transaction + key.usage.typed_data + key.usage.personal_sign;
  };
  const chainNonce = (): Promise<number> =>
    stack.chain.getTransactionCount({ address: stack.signerAddress, blockTag: 'pending' });

  test('intents sent while Postgres is down are refused with a code, nothing is signed, and traffic resumes', async () => {
    const token = await stack.token();
    let phase: Phase = 'up';
    const outcomes: Outcome[] = [];
    let sending = true;
    const count = (p: (o: Outcome) => boolean) => outcomes.filter(p).length;
    const until = async (done: () => boolean): Promise<void> => {
      for (let i = 0; i < 3_000 && !done(); i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(done(), 'the stream made no progress');
    };

    // Two senders, one transfer after another, for as long as the test runs.
    const sender = async (): Promise<void> => {
      while (sending) {
        const sent = phase;
        const res = await postIntent(stack.baseUrl, token, nativeTransfer()).catch(() => ({ status: 0, body: {} }));
        const body = res.body as { id?: string; code?: string; intent?: { id?: string } };
        outcomes.push({
          sent,
          answered: phase,
          status: res.status,
          code: typeof body.code === 'string' ? body.code : null,
          id: body.id ?? body.intent?.id ?? null,
        });
      }
    };
    const senders = [sender(), sender()];

    await until(() => count((o) => o.status === 201) >= 3);
    phase = 'stopping';
    await pg.stop();
    phase = 'down';
    const signedBefore = await signatures();
    const nonceBefore = await chainNonce();
    await until(() => count((o) => o.sent === 'down' && o.answered === 'down') >= 6);
    const signedDuring = await signatures();
    const nonceDuring = await chainNonce();
    phase = 'starting';
    await pg.start();
    phase = 'back';
    await until(() => count((o) => o.sent === 'back' && o.status === 201) >= 3);
    sending = false;
    await Promise.all(senders);

    // Every intent sent and answered while the database was down was refused with a stable code.
    const inWindow = outcomes.filter((o) => o.sent === 'down' && o.answered === 'down');
    assert.ok(inWindow.length >= 6);
    for (const o of inWindow) {
      assert.equal(o.status, 503, JSON.stringify(o));
      assert.equal(o.code, 'database_unavailable', JSON.stringify(o));
    }
    // The signer was not called in the window, and nothing reached the chain.
    assert.equal(signedDuring, signedBefore, 'the signer signed while Postgres was down');
    assert.equal(nonceDuring, nonceBefore, 'a transaction was broadcast while Postgres was down');
    // Whatever was in flight at the cut was answered: accepted (201, or 202 signed but not yet broadcast), or refused
    // with a code (never a bare 5xx). No process crashed on a connection lost mid-transaction (db/pool.ts).
    for (const o of outcomes) {
      assert.ok(o.status === 201 || o.status === 202 || (o.status >= 400 && o.code !== null), JSON.stringify(o));
    }

    // Traffic resumed: the intents accepted after the restart are mined, with no nonce left unfilled before them.
    const resumed = outcomes.filter((o) => o.sent === 'back' && o.status === 201);
    for (const o of resumed) {
      const final = await waitForStatus(stack.baseUrl, token, o.id!, ['confirmed', 'failed'], 600);
      assert.equal(final.status, 'confirmed', JSON.stringify(final));
    }
  });
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as OTPAuth from 'otpauth';
import { buildApp } from '../src/app.ts';
import {
  SignerError,
  fromWireTransaction,
  latchReleaseMessage,
  toWireTransaction,
  transactionDigest,
} from '@clawd402/protocol';
import { SignerClient, TicketIssuer, loadTicketPrivateKey } from '@clawd402/signer-client';
import { RECIPIENTS, TEST_POLICY, callJson, count, postIntent, waitForStatus, type Stack } from './support/stack.ts';
import { rpc, startManualStack } from './support/submission.ts';

/**
 * The kill switch (docs/killswitch.md) on real processes: two gateway processes (this one and a spawned one) sharing
 * the real signer process, anvil with automine off so signed transactions stay in flight.
 */
const POLICY = TEST_POLICY.replace(
  'policies:\n',
  `policies:
  - name: a_human_decides
    conditions:
      transaction_type: transfer
      recipient_whitelist: ["${RECIPIENTS[1]}"]
    action: require_human_approval
    notification: { channels: [ops], timeout: 600 }
`,
);
const ENGAGE = 'ENGAGE KILL SWITCH';
const RELEASE = 'RELEASE KILL SWITCH';

describe('kill switch and pauses', { timeout: 600_000 }, () => {
  let stack: Stack;
  let token: string;
  let second: { baseUrl: string; stop(): Promise<void> };

  before(async () => {
    ({ stack, token } = await startManualStack({ policy: POLICY }));
    second = await stack.spawnGateway();
  });
  after(async () => {
    await second?.stop();
    await stack?.stop();
  });

  /** A fresh owner with TOTP enrolled, and a code it has not used yet (one step-up per owner). */
  const owner = async (): Promise<{ token: string; code: string }> => {
    const t = await stack.loginAs('owner');
    const enrolled = await callJson(stack.baseUrl, t, 'POST', '/auth/totp/enroll');
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(enrolled.body.secret), digits: 6, period: 30 });
    const confirmed = await callJson(stack.baseUrl, t, 'POST', '/auth/totp/confirm', { code: totp.generate() });
    assert.equal(confirmed.status, 204);
    return { token: t, code: totp.generate({ timestamp: Date.now() + 30_000 }) };
  };
  /** A fresh owner engages the kill switch; answers the 200 response. */
  const engage = async (reason: string): Promise<{ status: number; body: any }> => {
    const o = await owner();
    const engaged = await callJson(stack.baseUrl, o.token, 'POST', '/admin/killswitch', {
      confirm: ENGAGE,
      totp: o.code,
      reason,
    });
    assert.equal(engaged.status, 200, JSON.stringify(engaged.body));
    return engaged;
  };
  const transfer = (baseUrl: string, to = RECIPIENTS[0], agentToken = token) =>
    postIntent(baseUrl, agentToken, { type: 'transfer', chainId: 31337, to, asset: 'native', amount: '0.000001' });
  const releaseAuthorization = (latchId: string, keyPem = stack.releaseKeyPem): string =>
    sign(null, latchReleaseMessage(latchId), keyPem).toString('base64url');
  const readAsAgent = () => callJson(stack.baseUrl, token, 'GET', '/admin/killswitch');

  let pendingApproval: { id: string; digest: string; intentId: string };
  let inFlight: string[] = [];
  let engagedAt: Date;

  test('engaging needs an owner, the typed confirmation and a fresh TOTP code', async () => {
    const operator = await stack.loginAs('operator');
    const byOperator = await callJson(stack.baseUrl, operator, 'POST', '/admin/killswitch', {
      confirm: ENGAGE,
      reason: 'x',
    });
    assert.deepEqual([byOperator.status, byOperator.body.code], [403, 'forbidden']);
    const o = await owner();
    const unconfirmed = await callJson(stack.baseUrl, o.token, 'POST', '/admin/killswitch', {
      confirm: 'engage',
      totp: o.code,
      reason: 'x',
    });
    assert.deepEqual([unconfirmed.status, unconfirmed.body.code], [400, 'killswitch_confirmation_mismatch']);
    const noCode = await callJson(stack.baseUrl, o.token, 'POST', '/admin/killswitch', {
      confirm: ENGAGE,
      reason: 'x',
    });
    assert.deepEqual([noCode.status, noCode.body.code], [401, 'totp_required']);
    const wrongCode = await callJson(stack.baseUrl, o.token, 'POST', '/admin/killswitch', {
      confirm: ENGAGE,
      totp: o.code === '000000' ? '111111' : '000000',
      reason: 'x',
    });
    assert.deepEqual([wrongCode.status, wrongCode.body.code], [400, 'invalid_totp_code']);
    const noTotpOwner = await stack.loginAs('owner');
    const unenrolled = await callJson(stack.baseUrl, noTotpOwner, 'POST', '/admin/killswitch', {
      confirm: ENGAGE,
      totp: '123456',
      reason: 'x',
    });
    assert.deepEqual([unenrolled.status, unenrolled.body.code], [403, 'totp_enrollment_required']);
    assert.equal((await readAsAgent()).status, 403, 'agents cannot read it');
    const state = await callJson(stack.baseUrl, o.token, 'GET', '/admin/killswitch');
    assert.deepEqual([state.body.killSwitch.engaged, state.body.signer.latched], [false, false]);
  });

  test('under a steady stream on two gateway processes, the kill switch stops all signing: nothing signed after it, approvals frozen, in-flight cancelled on chain', async () => {
    // A pending approval, to be frozen.
    const waiting = await transfer(stack.baseUrl, RECIPIENTS[1]);
    assert.equal(waiting.status, 202, JSON.stringify(waiting.body));
    const approver = await stack.loginAs('approver');
    const listed = await callJson(stack.baseUrl, approver, 'GET', '/admin/approvals?status=pending');
    const a = listed.body.items.find((x: { intent: { id: string } }) => x.intent.id === waiting.body.id);
    pendingApproval = { id: a.id, digest: a.digest, intentId: waiting.body.id };

    // Two streams, one per gateway process, each sending intents back to back until told to stop.
    let streaming = true;
    const answers: { gateway: string; status: number; code?: string }[] = [];
    const stream = async (gateway: string, baseUrl: string): Promise<void> => {
      while (streaming) {
        const sent = await transfer(baseUrl);
        answers.push({ gateway, status: sent.status, code: sent.body.code });
      }
    };
    const streams = [stream('first', stack.baseUrl), stream('second', second.baseUrl)];
    const signedBy = (gateway: string) => answers.filter((x) => x.gateway === gateway && x.status === 201).length;
    while (signedBy('first') < 5 || signedBy('second') < 5) await new Promise((r) => setTimeout(r, 50));

    const engaged = await engage('drill: suspected key leak');
    assert.equal(engaged.body.killSwitch.engaged, true);
    assert.equal(engaged.body.signer.latched, true);
    engagedAt = new Date(engaged.body.killSwitch.engagedAt);
    // Keep streaming until both processes refuse with the code (bounded by the test's timeout; no timing assertion).
    const refusedBy = (gateway: string) =>
      answers.some((x) => x.gateway === gateway && x.code === 'killswitch_engaged');
    while (!refusedBy('first') || !refusedBy('second')) await new Promise((r) => setTimeout(r, 50));
    streaming = false;
    await Promise.all(streams);
    for (const base of [stack.baseUrl, second.baseUrl]) {
      const refused = await transfer(base);
      assert.deepEqual([refused.status, refused.body.code], [403, 'killswitch_engaged'], base);
    }
    assert.ok(answers.filter((x) => x.status === 201).length >= 10);
    assert.ok(
      answers.every((x) => x.status === 201 || x.code === 'killswitch_engaged'),
      JSON.stringify(answers),
    );

    // Nothing signed later than engage + 1 s, per the audit log …
    const late = await count(
      stack.pool,
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'intent.signed' AND at > $1::timestamptz + interval '1 second'`,
      [engagedAt],
    );
    assert.equal(late, 0);
    // … and per the signer's journal: after the latch line, only the cancellations (their digests are audited).
    const cancelDigests = new Set(
      (
        await stack.pool.query<{ digest: string }>(
          `SELECT (record::jsonb)->'data'->>'digest' AS digest FROM audit_log WHERE action = 'intent.cancel_signed'`,
        )
      ).rows.map((r) => r.digest.toLowerCase()),
    );
    const journal = readFileSync(join(stack.dir, 'journal.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const latchAt = journal.findIndex((e) => typeof e.latch === 'string');
    assert.ok(latchAt >= 0, 'the latch is in the journal');
    const signedAfter = journal.slice(latchAt + 1).filter((e) => typeof e.jti === 'string' && 'k' in e);
    assert.equal(signedAfter.filter((e) => !cancelDigests.has(String(e.nd).toLowerCase())).length, 0);

    // Pending approvals cannot be approved while engaged.
    const frozen = await callJson(stack.baseUrl, approver, 'POST', `/admin/approvals/${pendingApproval.id}/approve`, {
      digest: pendingApproval.digest,
    });
    assert.deepEqual([frozen.status, frozen.body.code], [403, 'killswitch_engaged']);

    // In-flight transactions: a cancellation was signed for each; mined, every one ends cancelled on chain.
    inFlight = (
      await stack.pool.query<{ id: string }>(
        `SELECT id FROM intents WHERE status IN ('signed', 'submitted') AND tx_hash IS NOT NULL`,
      )
    ).rows.map((r) => r.id);
    assert.ok(inFlight.length >= 10, `${inFlight.length} in flight`);
    assert.equal(engaged.body.cancellations.failed, 0);
    const cancels = await count(
      stack.pool,
      `SELECT count(*)::int AS n FROM intents WHERE id = ANY($1::uuid[]) AND cancel_reason = 'operator'`,
      [inFlight],
    );
    assert.equal(cancels, inFlight.length);
    const before = await stack.chain.getBalance({ address: RECIPIENTS[0]! });
    await rpc(stack.anvil.rpcUrl, 'evm_mine');
    for (let i = 0; i < 50; i += 1) {
      await stack.app.services.tracker.poll();
      const open = await count(
        stack.pool,
        `SELECT count(*)::int AS n FROM intents WHERE id = ANY($1::uuid[]) AND status <> 'cancelled'`,
        [inFlight],
      );
      if (open === 0) break;
      await rpc(stack.anvil.rpcUrl, 'evm_mine');
    }
    const ended = await stack.pool.query<{ status: string }>(
      'SELECT DISTINCT status FROM intents WHERE id = ANY($1::uuid[])',
      [inFlight],
    );
    assert.deepEqual(
      ended.rows.map((r) => r.status),
      ['cancelled'],
    );
    assert.equal(await stack.chain.getBalance({ address: RECIPIENTS[0]! }), before, 'nothing reached the recipient');
  });

  test('a gateway restarted during the kill switch signs nothing; a ticket minted by a process that missed it is refused by the signer latch, across a signer restart', async () => {
    await second.stop();
    second = await stack.spawnGateway();
    const refused = await transfer(second.baseUrl);
    assert.deepEqual([refused.status, refused.body.code], [403, 'killswitch_engaged']);

    await stack.restartSigner();
    const tickets = new TicketIssuer({
      privateKey: loadTicketPrivateKey(stack.config.ticketPrivateKeyPem),
      keyId: 'gateway-1',
    });
    const client = new SignerClient({ socketPath: stack.signer.socket, timeoutMs: 10_000 });
    try {
      assert.equal((await client.latchStatus()).latched, true, 'the latch survived the signer restart');
      const fees = await stack.app.services.chains.feeQuote(31337);
      const nonce = await stack.chain.getTransactionCount({ address: stack.signerAddress, blockTag: 'pending' });
      const wire = toWireTransaction({
        chainId: 31337,
        nonce,
        to: RECIPIENTS[0]!,
        value: 1n,
        data: '0x',
        gas: 21_000n,
        ...fees,
      });
      const ticket = await tickets.issue({
        intentId: 'missed-the-notification',
        chainId: 31337,
        signerKeyId: stack.signerAddress,
        digest: transactionDigest(fromWireTransaction(wire)),
      });
      await assert.rejects(client.signTransaction({ ticket, transaction: wire }), (error: unknown) => {
        assert.ok(error instanceof SignerError);
        assert.equal(error.code, 'killswitch_latched');
        return true;
      });
      // A release the gateway could make up (its own key, or no key) is refused by the signer.
      const latchId = (await client.latchStatus()).latchId!;
      const forged = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      await assert.rejects(client.releaseLatch({ latchId, authorization: releaseAuthorization(latchId, forged) }), {
        code: 'latch_release_unauthorized',
      });
      assert.equal((await client.latchStatus()).latched, true);
    } finally {
      await client.close();
    }
  });

  test('release: refused without the owners’ signer authorisation; with it, signing resumes on both processes', async () => {
    const o1 = await owner();
    const bare = await callJson(stack.baseUrl, o1.token, 'POST', '/admin/killswitch/release', {
      confirm: RELEASE,
      totp: o1.code,
    });
    assert.deepEqual([bare.status, bare.body.code], [403, 'signer_latch_release_refused']);
    const latchId = bare.body.details.latchId as string;
    const o2 = await owner();
    const released = await callJson(stack.baseUrl, o2.token, 'POST', '/admin/killswitch/release', {
      confirm: RELEASE,
      totp: o2.code,
      signerRelease: releaseAuthorization(latchId),
    });
    assert.equal(released.status, 200, JSON.stringify(released.body));
    assert.equal(released.body.killSwitch.engaged, false);
    assert.equal((await readAsAgent()).status, 403);
    for (const base of [stack.baseUrl, second.baseUrl]) {
      let sent = await transfer(base);
      for (let i = 0; i < 40 && sent.body.code === 'killswitch_engaged'; i += 1) {
        await new Promise((r) => setTimeout(r, 100));
        sent = await transfer(base);
      }
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      assert.equal(sent.body.status, 'submitted');
    }
    const audit = await stack.pool.query<{ action: string }>(
      `SELECT action FROM audit_log WHERE subject = 'killswitch' ORDER BY seq`,
    );
    assert.deepEqual(
      audit.rows.map((r) => r.action),
      ['killswitch.engaged', 'killswitch.cancellations', 'killswitch.released'],
    );
  });

  test('pauses: agent, key and chain each refuse with their code on both processes; resume restores', async () => {
    const operator = await stack.loginAs('operator');
    const apiKeyId = (await stack.pool.query('SELECT id FROM api_keys WHERE agent_id = $1', [stack.agent.agentId]))
      .rows[0].id as string;
    for (const [path, code] of [
      [`/admin/agents/${stack.agent.agentId}`, 'agent_paused'],
      [`/admin/keys/${apiKeyId}`, 'api_key_paused'],
      ['/admin/chains/31337', 'chain_paused'],
    ] as const) {
      const paused = await callJson(stack.baseUrl, operator, 'POST', `${path}/pause`, { reason: 'incident drill' });
      assert.equal(paused.status, 200, JSON.stringify(paused.body));
      assert.equal((await transfer(stack.baseUrl)).body.code, code);
      let other = await transfer(second.baseUrl);
      for (let i = 0; i < 40 && other.status === 201; i += 1) {
        await new Promise((r) => setTimeout(r, 100));
        other = await transfer(second.baseUrl);
      }
      assert.deepEqual([other.status, other.body.code], [403, code]);
      const resumed = await callJson(stack.baseUrl, operator, 'POST', `${path}/resume`);
      assert.equal(resumed.status, 200);
      const ok = await transfer(stack.baseUrl);
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
    }
    const unknown = await callJson(stack.baseUrl, operator, 'POST', '/admin/agents/not-a-uuid/pause', { reason: 'x' });
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'not_found']);
    const viewer = await stack.loginAs('viewer');
    const byViewer = await callJson(stack.baseUrl, viewer, 'POST', '/admin/chains/31337/pause', { reason: 'x' });
    assert.deepEqual([byViewer.status, byViewer.body.code], [403, 'forbidden']);
    const audit = await count(
      stack.pool,
      `SELECT count(*)::int AS n FROM audit_log WHERE action IN ('pause.set', 'pause.lifted')`,
    );
    assert.equal(audit, 6);
  });

  test('regression: approving an intent of a paused or disabled agent is refused (approval_agent_inactive)', async () => {
    const operator = await stack.loginAs('operator');
    const approver = await stack.loginAs('approver');
    const approve = () =>
      callJson(stack.baseUrl, approver, 'POST', `/admin/approvals/${pendingApproval.id}/approve`, {
        digest: pendingApproval.digest,
      });
    await callJson(stack.baseUrl, operator, 'POST', `/admin/agents/${stack.agent.agentId}/pause`, { reason: 'x' });
    const whilePaused = await approve();
    assert.deepEqual([whilePaused.status, whilePaused.body.code], [409, 'approval_agent_inactive']);
    await callJson(stack.baseUrl, operator, 'POST', `/admin/agents/${stack.agent.agentId}/resume`);

    // A disabled agent: its pending approval cannot be approved either (it could before).
    const other = await stack.newAgent();
    const otherToken = await stack.token(other.apiKey);
    const waiting = await transfer(stack.baseUrl, RECIPIENTS[1], otherToken);
    assert.equal(waiting.status, 202);
    const listed = await callJson(stack.baseUrl, approver, 'GET', '/admin/approvals?status=pending');
    const a = listed.body.items.find((x: { intent: { id: string } }) => x.intent.id === waiting.body.id);
    const disabled = await callJson(stack.baseUrl, operator, 'POST', `/admin/agents/${other.agentId}/disable`);
    assert.equal(disabled.status, 204);
    const onDisabled = await callJson(stack.baseUrl, approver, 'POST', `/admin/approvals/${a.id}/approve`, {
      digest: a.digest,
    });
    assert.deepEqual([onDisabled.status, onDisabled.body.code], [409, 'approval_agent_inactive']);
    const row = await stack.pool.query('SELECT status FROM intents WHERE id = $1', [waiting.body.id]);
    assert.equal(row.rows[0].status, 'pending_approval', 'nothing was signed');

    // Resumed, the first agent's approval (frozen during the kill switch) now goes through.
    const approved = await approve();
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    await waitForStatus(stack.baseUrl, token, pendingApproval.intentId, ['submitted']);
  });

  test('KILLSWITCH_RELEASE_OWNERS=2: the first owner only votes (202); a second, different owner releases', async () => {
    const twoOwners = await buildApp(
      { ...stack.config, killSwitch: { releaseOwners: 2 } },
      { logger: false, tracker: false, notifications: false },
    );
    try {
      const engaged = await engage('two-owner drill');
      const authorization = releaseAuthorization(engaged.body.signer.latchId);
      const release = async (who: { token: string; code: string }) => {
        const res = await twoOwners.inject({
          method: 'POST',
          url: '/admin/killswitch/release',
          headers: { authorization: `Bearer ${who.token}` },
          payload: { confirm: RELEASE, totp: who.code, signerRelease: authorization },
        });
        return { status: res.statusCode, body: res.json() };
      };
      const first = await release(await owner());
      assert.equal(first.status, 202, JSON.stringify(first.body));
      assert.deepEqual([first.body.released, first.body.votes, first.body.required], [false, 1, 2]);
      assert.equal((await transfer(stack.baseUrl)).body.code, 'killswitch_engaged', 'one owner does not release');
      const secondOwner = await release(await owner());
      assert.equal(secondOwner.status, 200, JSON.stringify(secondOwner.body));
      assert.equal(secondOwner.body.released, true);
      assert.equal(secondOwner.body.killSwitch.engaged, false);
    } finally {
      await twoOwners.close();
    }
  });
});

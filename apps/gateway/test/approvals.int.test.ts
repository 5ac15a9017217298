import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPIENTS, callJson, getJson, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';

// ETH is 2,000 USD (the development default): 0.1 ETH = 200 USD needs two of three named approvers; 0.2 ETH needs
// one approver within 600 s, then escalates to on-call for 300 s more, then is rejected.
const POLICY = `
policies:
  - name: two_of_three
    conditions: { transaction_type: transfer, min_value_usd: 100, max_value_usd: 300 }
    action: require_human_approval
    notification: { channels: [ops], timeout: 600 }
    quorum: { required: 2, approvers: [approver-1, approver-2, approver-3] }
  - name: one_with_escalation
    conditions: { transaction_type: transfer, min_value_usd: 300 }
    action: require_human_approval
    notification: { channels: [ops], timeout: 600, escalation: { channels: [oncall], timeout: 300 } }
  - name: default_deny
    conditions: {}
    action: reject
`;

describe('human approvals', () => {
  let stack: Stack;
  let token: string;
  const approvers: string[] = [];
  let viewer: string;

  before(async () => {
    stack = await startStack({ policy: POLICY });
    for (let i = 0; i < 3; i++) approvers.push(await stack.loginAs('approver')); // approver-1 … approver-3
    viewer = await stack.loginAs('viewer');
    token = await stack.token();
  });
  after(async () => stack?.stop());

  const send = (amount: string) =>
    postIntent(stack.baseUrl, token, { type: 'transfer', chainId: 31337, to: RECIPIENTS[0], asset: 'native', amount });
  const approvalOf = async (intentId: string): Promise<any> => {
    const list = await callJson(stack.baseUrl, approvers[0]!, 'GET', '/admin/approvals?status=pending');
    assert.equal(list.status, 200);
    return list.body.items.find((a: { intent: { id: string } }) => a.intent.id === intentId);
  };
  const approve = (who: string, id: string, digest: string) =>
    callJson(stack.baseUrl, who, 'POST', `/admin/approvals/${id}/approve`, { digest });

  test('2 of 3: one approval leaves it pending, the same user twice does not count, a second user approves it', async () => {
    const sent = await send('0.1');
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.status, 'pending_approval');
    assert.equal(sent.body.decision.policy, 'two_of_three');
    const approval = await approvalOf(sent.body.id);
    assert.equal(approval.required, 2);
    assert.match(approval.digest, /^sha256:[0-9a-f]{64}$/);
    const outbox = await stack.pool.query(
      `SELECT channel, event FROM notification_outbox WHERE payload->>'approvalId' = $1`,
      [approval.id],
    );
    assert.deepEqual(outbox.rows, [{ channel: 'ops', event: 'approval.requested' }]);

    // The agent long-polls; it wakes when a human decides.
    const waiting = getJson(`${stack.baseUrl}/v1/intents/${sent.body.id}?wait=30`, token);

    const first = await approve(approvers[0]!, approval.id, approval.digest);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual([first.body.status, first.body.intent.status], ['pending', 'pending_approval']);
    const again = await approve(approvers[0]!, approval.id, approval.digest);
    assert.deepEqual([again.status, again.body.code], [409, 'approval_already_voted']);
    const viewerVote = await approve(viewer, approval.id, approval.digest);
    assert.deepEqual([viewerVote.status, viewerVote.body.code], [403, 'forbidden']);
    // An admin may decide approvals in general, but this rule names its approvers.
    const notNamed = await approve(await stack.loginAs('admin'), approval.id, approval.digest);
    assert.deepEqual([notNamed.status, notNamed.body.code], [403, 'approval_not_eligible']);

    const second = await approve(approvers[1]!, approval.id, approval.digest);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.status, 'approved');
    assert.equal(second.body.approvedBy.length, 2);
    assert.ok(['signed', 'submitted', 'confirmed'].includes(second.body.intent.status), second.body.intent.status);

    const woke = await waiting;
    assert.equal(woke.status, 200);
    assert.notEqual(woke.body.status, 'pending_approval');
    assert.equal(
      (await waitForStatus(stack.baseUrl, token, sent.body.id, ['confirmed', 'failed'])).status,
      'confirmed',
    );

    // Replaying the approval id, by anyone, fails: a decision counts once.
    const replay = await approve(approvers[2]!, approval.id, approval.digest);
    assert.deepEqual([replay.status, replay.body.code], [409, 'approval_not_pending']);
  });

  test('an approval counts only for its digest: a vote for another digest, or on a changed intent, is refused', async () => {
    const sent = await send('0.1');
    const approval = await approvalOf(sent.body.id);
    const wrong = await approve(approvers[0]!, approval.id, `sha256:${'0'.repeat(64)}`);
    assert.deepEqual([wrong.status, wrong.body.code], [409, 'approval_digest_mismatch']);

    const first = await approve(approvers[0]!, approval.id, approval.digest);
    assert.equal(first.status, 200);
    // Any field of the intent changing (here its amount, by hand in the database) invalidates the approval.
    await stack.pool.query(`UPDATE intents SET amount = amount + 1 WHERE id = $1`, [sent.body.id]);
    const second = await approve(approvers[1]!, approval.id, approval.digest);
    assert.deepEqual([second.status, second.body.code], [409, 'approval_digest_mismatch']);
    const intent = await getJson(`${stack.baseUrl}/v1/intents/${sent.body.id}`, token);
    assert.equal(intent.body.status, 'pending_approval');
    assert.equal(intent.body.txHash, null, 'nothing was signed');
  });

  test('a rejection needs a reason and rejects the intent', async () => {
    const sent = await send('0.1');
    const approval = await approvalOf(sent.body.id);
    const rejected = await callJson(stack.baseUrl, approvers[2]!, 'POST', `/admin/approvals/${approval.id}/reject`, {
      reason: 'not in the budget',
    });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    assert.equal(rejected.body.status, 'rejected');
    assert.equal(rejected.body.intent.status, 'rejected');
    assert.deepEqual(rejected.body.intent.error, {
      code: 'approval_rejected',
      message: 'Rejected by a human: not in the budget',
    });
  });

  test('timeout → escalation notice → rejection, with the clock driven by the test', async () => {
    // Approvals earlier tests left pending (no escalation) would time out in the same sweeps when their clocks started
    // more than a second earlier (a loaded machine): let the clock expire them first, so the sweeps below see this one.
    await stack.app.services.approvals.sweep(new Date(Date.now() + 601_000));
    const sent = await send('0.2');
    assert.equal(sent.body.decision.policy, 'one_with_escalation');
    const approval = await approvalOf(sent.body.id);
    const createdAt = Date.parse(approval.createdAt);

    // Before the timeout nothing happens.
    const early = await stack.app.services.approvals.sweep(new Date(createdAt + 599_000));
    assert.equal(early.escalated + early.expired, 0);
    // At the timeout: the escalation runs (on-call is notified) and the approval waits once more.
    const escalated = await stack.app.services.approvals.sweep(new Date(createdAt + 601_000));
    assert.equal(escalated.escalated, 1);
    const notices = await stack.pool.query(
      `SELECT channel, event FROM notification_outbox WHERE payload->>'approvalId' = $1 ORDER BY id`,
      [approval.id],
    );
    assert.deepEqual(notices.rows, [
      { channel: 'ops', event: 'approval.requested' },
      { channel: 'oncall', event: 'approval.escalated' },
    ]);
    assert.equal((await getJson(`${stack.baseUrl}/v1/intents/${sent.body.id}`, token)).body.status, 'pending_approval');

    // Past the escalation's own timeout: rejected, nothing signed.
    const expired = await stack.app.services.approvals.sweep(new Date(createdAt + 601_000 + 301_000));
    assert.equal(expired.expired, 1);
    const intent = await getJson(`${stack.baseUrl}/v1/intents/${sent.body.id}`, token);
    assert.equal(intent.body.status, 'rejected');
    assert.equal(intent.body.error.code, 'approval_expired');
    assert.equal(intent.body.txHash, null);
    const late = await approve(approvers[0]!, approval.id, approval.digest);
    assert.deepEqual([late.status, late.body.code], [409, 'approval_not_pending']);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANVIL_ACCOUNTS } from '@clawd402/testkit';
import { RECIPIENTS, count, getJson, insertApprovedTransfer, waitForStatus } from './support/stack.ts';
import { postNativeTransfer, stackWithToken } from './support/suite.ts';

/** Money fails closed: when the policy, the signer or the audit log says no, nothing is signed or broadcast. */
describe('fail closed', () => {
  const ctx = stackWithToken();

  const chainNonce = (): Promise<number> =>
    ctx.stack.chain.getTransactionCount({ address: ctx.stack.signerAddress, blockTag: 'pending' });
  const journalLines = (): number => {
    const path = join(ctx.stack.dir, 'journal.log');
    return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
  };

  test('an intent no rule matches is rejected with policy.default_deny and nothing is signed', async () => {
    // Account 0 is not on the test policy's whitelist, and the set has no catch-all rule: the implicit deny applies.
    const res = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, ANVIL_ACCOUNTS[0].address, '1');
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'policy_denied');
    assert.equal(res.body.intent.status, 'rejected');
    assert.deepEqual(
      res.body.intent.decision.reasons.map((r: { code: string }) => r.code),
      ['policy.default_deny'],
    );
    assert.equal(res.body.intent.decision.policy, null);
    assert.match(res.body.intent.decision.policySetHash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(res.body.intent.txHash, null);
    assert.equal(res.body.intent.nonce, null);

    const audit = await ctx.stack.pool.query<{ action: string }>(
      'SELECT action FROM audit_log WHERE subject = $1 ORDER BY seq',
      [`intent:${res.body.intent.id}`],
    );
    assert.deepEqual(
      audit.rows.map((r) => r.action),
      ['intent.decided'],
    );
    assert.equal(journalLines(), 0, 'the signer saw no ticket');
    assert.equal(await chainNonce(), 0);
    assert.equal(await count(ctx.stack.pool, 'SELECT count(*)::int AS n FROM nonces'), 0);
  });

  test('over the policy limit is rejected by the rule set and nothing is signed', async () => {
    const res = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, RECIPIENTS[0]!, '100.000000000000000001');
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'policy_denied');
    assert.equal(journalLines(), 0);
    assert.equal(await chainNonce(), 0);
  });

  test('with the signer down the intent fails with signer_unavailable, no nonce is consumed, and the next intent uses it', async () => {
    await ctx.stack.signer.stop();
    const res = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, RECIPIENTS[0]!, '1');
    assert.equal(res.status, 503);
    assert.equal(res.body.code, 'signer_unavailable');
    assert.equal(res.body.intent.status, 'failed');
    assert.equal(res.body.intent.txHash, null);
    const nonceRow = await ctx.stack.pool.query('SELECT next_nonce::int AS n FROM nonces');
    assert.ok(nonceRow.rows.length === 0 || nonceRow.rows[0].n === 0, 'nonce 0 was not consumed');

    await ctx.stack.restartSigner();
    const next = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, RECIPIENTS[0]!, '1');
    assert.equal(next.status, 201, JSON.stringify(next.body));
    assert.equal(next.body.nonce, 0);
    assert.equal(
      (await waitForStatus(ctx.stack.baseUrl, ctx.token, next.body.id, ['confirmed', 'failed'])).status,
      'confirmed',
    );
  });

  test('when the audit log cannot be written the signature never leaves: audit_unavailable, nothing broadcast', async () => {
    const nonceBefore = await chainNonce();
    const journalBefore = journalLines();
    await ctx.stack.pool.query(
      'ALTER FUNCTION audit_append(timestamptz, text, text, text, text) RENAME TO audit_append_disabled',
    );
    try {
      const res = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, RECIPIENTS[1]!, '1');
      assert.equal(res.status, 503);
      assert.equal(res.body.code, 'audit_unavailable');
      // The decision itself could not be recorded, so no intent exists and nothing reached the signer.
      const recorded = await count(ctx.stack.pool, 'SELECT count(*)::int AS n FROM intents WHERE recipient = $1', [
        RECIPIENTS[1],
      ]);
      assert.equal(recorded, 0);
    } finally {
      await ctx.stack.pool.query(
        'ALTER FUNCTION audit_append_disabled(timestamptz, text, text, text, text) RENAME TO audit_append',
      );
    }
    assert.equal(await chainNonce(), nonceBefore);
    assert.equal(journalLines(), journalBefore, 'the signer was called 0 times: its journal spent no ticket');
  });

  test('when only the signature record cannot be written, the signed transaction is dropped and its nonce reused', async () => {
    const nonceBefore = await chainNonce();
    // Refuse exactly the `intent.signed` record: the decision is recorded, the signer signs, the audit write fails.
    await ctx.stack.pool.query(`CREATE FUNCTION refuse_signed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.action = 'intent.signed' THEN RAISE EXCEPTION 'audit store refuses'; END IF; RETURN NEW; END $$`);
    await ctx.stack.pool.query(
      'CREATE TRIGGER refuse_signed BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_signed()',
    );
    let failedId: string;
    try {
      const res = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, RECIPIENTS[2]!, '1');
      assert.equal(res.status, 503);
      assert.equal(res.body.code, 'audit_unavailable');
      assert.equal(res.body.intent.status, 'failed');
      assert.equal(res.body.intent.txHash, null);
      failedId = res.body.intent.id;
    } finally {
      await ctx.stack.pool.query('DROP TRIGGER refuse_signed ON audit_log');
      await ctx.stack.pool.query('DROP FUNCTION refuse_signed()');
    }
    const row = await ctx.stack.pool.query('SELECT tx_hash, raw_tx, nonce FROM intents WHERE id = $1', [failedId]);
    assert.deepEqual(row.rows[0], { tx_hash: null, raw_tx: null, nonce: null });
    assert.equal(await chainNonce(), nonceBefore, 'nothing was broadcast');
    const next = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, RECIPIENTS[2]!, '1');
    assert.equal(next.status, 201);
    assert.equal(next.body.nonce, nonceBefore, 'the nonce of the dropped signature is reused: no gap');
  });

  test('an intent left approved by a process that died before signing fails closed with signing_abandoned', async () => {
    const approve = () => insertApprovedTransfer(ctx.stack);
    const crashed = await approve();
    const fresh = await approve();
    await ctx.stack.pool.query("UPDATE intents SET updated_at = now() - interval '11 minutes' WHERE id = $1", [
      crashed,
    ]);
    const nonceBefore = await chainNonce();

    assert.equal(await ctx.stack.app.services.tracker.failAbandoned(10 * 60_000), 1);
    const view = await getJson(`${ctx.stack.baseUrl}/v1/intents/${crashed}`, ctx.token);
    assert.equal(view.body.status, 'failed');
    assert.equal(view.body.error.code, 'signing_abandoned');
    assert.equal(view.body.txHash, null);
    assert.equal(
      (await getJson(`${ctx.stack.baseUrl}/v1/intents/${fresh}`, ctx.token)).body.status,
      'approved',
      'a recent approval is left to its lane',
    );
    const audit = await ctx.stack.pool.query<{ action: string }>(
      'SELECT action FROM audit_log WHERE subject = $1 ORDER BY seq',
      [`intent:${crashed}`],
    );
    assert.deepEqual(
      audit.rows.map((r) => r.action),
      ['intent.decided', 'intent.failed'],
    );
    assert.equal(await chainNonce(), nonceBefore, 'nothing was signed or sent');
    assert.equal(
      await ctx.stack.app.services.tracker.failAbandoned(10 * 60_000),
      0,
      'compare-and-set: a second sweep does nothing',
    );
  });
});

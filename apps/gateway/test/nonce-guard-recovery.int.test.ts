import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromWireTransaction, toWireTransaction, transactionDigest } from '@clawd402/protocol';
import { TicketIssuer, loadTicketPrivateKey } from '@clawd402/signer-client';
import { RECIPIENTS, count, waitForStatus } from './support/stack.ts';
import { postNativeTransfer, stackWithToken } from './support/suite.ts';

/**
 * The signer's nonce guard refuses a second, different transaction at a nonce it already signed. A signature the
 * signer holds but Postgres never stored (a process that died between the signer's reply and its commit, a batch
 * whose earlier signature failed) never left the gateway, so the sign stage replaces it — and says so in the audit
 * record — instead of leaving the address stuck at that nonce.
 */
describe('sign stage and the signer nonce guard', { timeout: 300_000 }, () => {
  const ctx = stackWithToken();

  test('an unstored signature at the next nonce is replaced (audited), the intent confirms, and the stray one never reaches the chain', async () => {
    // What a gateway that died after the signer's reply leaves behind: nonce 0 signed for another transaction, nothing stored.
    const tickets = new TicketIssuer({
      privateKey: loadTicketPrivateKey(ctx.stack.config.ticketPrivateKeyPem),
      keyId: 'gateway-1',
    });
    const fees = await ctx.stack.app.services.chains.feeQuote(31337);
    const stray = toWireTransaction({
      chainId: 31337,
      nonce: 0,
      to: RECIPIENTS[1]!,
      value: 1n,
      data: '0x',
      gas: 21_000n,
      ...fees,
    });
    const strayDigest = transactionDigest(fromWireTransaction(stray));
    const ticket = await tickets.issue({
      intentId: 'crashed-process',
      chainId: 31337,
      signerKeyId: ctx.stack.signerAddress,
      digest: strayDigest,
    });
    const straySigned = await ctx.stack.app.services.signer.signTransaction({ ticket, transaction: stray });
    assert.equal(await count(ctx.stack.pool, 'SELECT count(*)::int AS n FROM intent_transactions'), 0);

    const sent = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, RECIPIENTS[0]!, '0.001');
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.equal(sent.body.nonce, 0);
    const done = await waitForStatus(ctx.stack.baseUrl, ctx.token, sent.body.id, ['confirmed', 'failed']);
    assert.equal(done.status, 'confirmed');

    const audit = await ctx.stack.pool.query<{ data: Record<string, unknown> }>(
      `SELECT (record::jsonb)->'data' AS data FROM audit_log WHERE subject = $1 AND action = 'intent.signed'`,
      [`intent:${sent.body.id}`],
    );
    assert.equal(audit.rows[0]?.data['replacedUnstoredSignature'], true);
    const mined = await ctx.stack.chain.getTransaction({ hash: done.txHash });
    assert.equal(mined.nonce, 0);
    assert.notEqual(done.txHash, straySigned.hash, 'the stray signature never left');

    // The next intent signs at nonce 1 with a plain ticket: nothing to replace there.
    const next = await postNativeTransfer(ctx.stack.baseUrl, ctx.token, RECIPIENTS[0]!, '0.001');
    assert.equal(next.status, 201, JSON.stringify(next.body));
    assert.equal(next.body.nonce, 1);
    const nextAudit = await ctx.stack.pool.query<{ data: Record<string, unknown> }>(
      `SELECT (record::jsonb)->'data' AS data FROM audit_log WHERE subject = $1 AND action = 'intent.signed'`,
      [`intent:${next.body.id}`],
    );
    assert.equal(nextAudit.rows[0]?.data['replacedUnstoredSignature'], undefined);
  });
});

// The gateway's request id on the signer's log lines (docs/logging.md), and the named regression for a hostile one:
// a frame whose requestId is too long or holds control characters is refused as malformed_frame, nothing signed.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { encodeFrame, SIGNER_ERRORS } from '@clawd402/protocol';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { CHAIN_ID, gatewayKeys, RawConnection, signerWithClient, tempDir, ticketFor, wireTx } from './support.ts';

describe('request id in the signer log', { timeout: 60_000 }, () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  const ctx = signerWithClient(tmp, {
    privateKeys: [key],
    gatewayPublicKeys: [gw.publicKey],
    chains: [CHAIN_ID],
    logger: pino({ level: 'info', timestamp: pino.stdTimeFunctions.isoTime }, stream),
  });

  test('a sign with a request id logs signer.signed carrying it', async () => {
    const tx = wireTx();
    const requestId = '3f1c2a9e-6d0b-4c1e-9a57-2b8d4e6f7a10';
    const signed = await ctx.client.signTransaction(
      { ticket: await ticketFor(gw, tx, address), transaction: tx },
      { requestId },
    );
    const line = lines.find((l) => l.event === 'signer.signed' && l.hash === signed.hash);
    assert.ok(line, JSON.stringify(lines));
    assert.equal(line.requestId, requestId);
    assert.equal(line.category, 'signer');
  });

  test('a refusal carries the request id too', async () => {
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, address);
    await ctx.client.signTransaction({ ticket, transaction: tx }, { requestId: 'req-first' });
    await assert.rejects(ctx.client.signTransaction({ ticket, transaction: tx }, { requestId: 'req-again' }), {
      code: 'ticket_reused',
    });
    const line = lines.find((l) => l.event === 'signer.refused' && l.requestId === 'req-again');
    assert.equal(line?.code, 'ticket_reused');
  });

  for (const [label, requestId] of [
    ['65 characters', 'r'.repeat(65)],
    ['a newline (a forged log line)', 'req-1\n{"event":"signer.signed"}'],
    ['a control character', 'req-\u0007'],
    ['a space', 'req 1'],
    ['the empty string', ''],
    ['a number', 42],
  ] as const) {
    test(`a frame whose requestId is ${label} is refused as malformed_frame and nothing is signed`, async () => {
      const tx = wireTx();
      const conn = await RawConnection.open(ctx.signer.socketPath);
      const params = { ticket: await ticketFor(gw, tx, address), transaction: tx };
      conn.writeRaw(encodeFrame({ v: 1, id: 'h', method: 'sign_transaction', params, requestId }));
      await conn.closed;
      assert.deepEqual(conn.frames, [
        { v: 1, id: 'h', error: { code: 'malformed_frame', message: SIGNER_ERRORS.malformed_frame } },
      ]);
      // The ticket was never spent: the same request without the hostile id signs.
      const signed = await ctx.client.signTransaction(params);
      assert.match(signed.hash, /^0x[0-9a-f]{64}$/);
    });
  }

  test('the client leaves out a request id the signer would refuse, so it still signs', async () => {
    const tx = wireTx();
    const signed = await ctx.client.signTransaction(
      { ticket: await ticketFor(gw, tx, address), transaction: tx },
      { requestId: 'x'.repeat(200) },
    );
    const line = lines.find((l) => l.event === 'signer.signed' && l.hash === signed.hash);
    assert.ok(line);
    assert.equal(line.requestId, undefined);
  });
});

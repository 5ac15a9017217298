/**
 * A UTF-8 byte order mark before a JSON body. RFC 8259 forbids sending one; fastify's old parser (secure-json-parse)
 * silently skipped it, so one body had two readings (with and without a BOM) depending on the reader. The gateway
 * refuses it: 400 invalid_json, raw bytes EF BB BF on the wire, on public and authenticated routes. A BOM inside a
 * string value is ordinary text. The gateway keeps serving.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPIENTS } from '../support/stack.ts';
import { stackWithToken } from '../support/suite.ts';
import { assertAnswered, assertStillServing, head, rawExchange } from '../support/raw-http.ts';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

describe('a UTF-8 BOM before a JSON body is refused', { timeout: 180_000 }, () => {
  const ctx = stackWithToken();

  for (const [path, auth, json] of [
    ['/auth/token', false, '{"apiKey":"c402_0000000000000000_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}'],
    [
      '/v1/intents',
      true,
      `{"type":"transfer","chainId":31337,"to":"${RECIPIENTS[0]}","asset":"native","amount":"0.001"}`,
    ],
  ] as const) {
    test(`${path}: EF BB BF + JSON → 400 invalid_json`, async () => {
      const body = Buffer.concat([BOM, Buffer.from(json)]);
      const headers = {
        'content-type': 'application/json',
        'content-length': body.length,
        connection: 'close',
        ...(auth ? { authorization: `Bearer ${ctx.token}` } : {}),
      };
      const ex = await rawExchange(ctx.stack.baseUrl, [Buffer.from(`${head('POST', path, headers)}\r\n`), body]);
      assertAnswered(ex, 400, 'invalid_json');
      await assertStillServing(ctx.stack.baseUrl, ctx.token);
    });
  }

  test('a BOM inside a string is text: the memo is kept, not refused as invalid_json', async () => {
    const res = await fetch(`${ctx.stack.baseUrl}/v1/intents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.token}` },
      body: JSON.stringify({
        type: 'transfer',
        chainId: 31337,
        to: RECIPIENTS[0],
        asset: 'native',
        amount: '0.001',
        memo: '\ufeffinvoice 7',
      }),
    });
    assert.equal(res.status, 201, await res.text());
  });
});

/**
 * Request smuggling, CL.TE and TE.CL: one request carrying both Content-Length and Transfer-Encoding, framed so that a
 * front end reading one header and the gateway reading the other would disagree on where the request ends and run
 * the rest as a second request. Node's HTTP parser refuses any request with both (and with two Content-Lengths);
 * the gateway answers 400 malformed_http_request, closes the connection, and the smuggled request never runs: no
 * second response, no intent created. After each, the gateway keeps serving.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPIENTS, count, startStack, type Stack } from '../support/stack.ts';
import { assertRefusedAndClosed, assertStillServing, head, rawExchange } from '../support/raw-http.ts';

describe('request smuggling (CL.TE, TE.CL) is refused by the HTTP parser', { timeout: 180_000 }, () => {
  let stack: Stack;
  let token: string;
  const intent = JSON.stringify({
    type: 'transfer',
    chainId: 31337,
    to: RECIPIENTS[0],
    asset: 'native',
    amount: '0.001',
  });
  /** The request an attacker hides in the body: a whole second intent. */
  let smuggled: string;
  before(async () => {
    stack = await startStack();
    token = await stack.token();
    smuggled = `${head('POST', '/v1/intents', { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(intent) })}\r\n${intent}`;
  });
  after(async () => stack?.stop());

  const auth = (): Record<string, string> => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

  test('CL.TE: Content-Length covers the smuggled request, a chunked terminator ends the body first', async () => {
    const body = `0\r\n\r\n${smuggled}`;
    const ex = await rawExchange(
      stack.baseUrl,
      `${head('POST', '/v1/intents', { ...auth(), 'content-length': Buffer.byteLength(body), 'transfer-encoding': 'chunked' })}\r\n${body}`,
    );
    assertRefusedAndClosed(ex, 400, 'malformed_http_request');
    await assertStillServing(stack.baseUrl, token);
  });

  test('TE.CL: a chunk holds the smuggled request, Content-Length stops after the chunk size', async () => {
    const chunk = `${Buffer.byteLength(smuggled).toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
    const ex = await rawExchange(
      stack.baseUrl,
      `${head('POST', '/v1/intents', { ...auth(), 'transfer-encoding': 'chunked', 'content-length': 4 })}\r\n${chunk}`,
    );
    assertRefusedAndClosed(ex, 400, 'malformed_http_request');
    await assertStillServing(stack.baseUrl, token);
  });

  test('CL.CL: two different Content-Lengths', async () => {
    const body = `${intent}${smuggled}`;
    const ex = await rawExchange(
      stack.baseUrl,
      `${head('POST', '/v1/intents', [...Object.entries(auth()), ['content-length', Buffer.byteLength(intent)], ['content-length', Buffer.byteLength(body)]])}\r\n${body}`,
    );
    assertRefusedAndClosed(ex, 400, 'malformed_http_request');
    await assertStillServing(stack.baseUrl, token);
  });

  test('CL.TE on a public route (POST /auth/token) and on HTTP/1.0', async () => {
    const body = `0\r\n\r\n${smuggled}`;
    const onAuth = await rawExchange(
      stack.baseUrl,
      `${head('POST', '/auth/token', { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'transfer-encoding': 'chunked' })}\r\n${body}`,
    );
    assertRefusedAndClosed(onAuth, 400, 'malformed_http_request');
    const http10 = `POST /v1/intents HTTP/1.0\r\nHost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    assertRefusedAndClosed(await rawExchange(stack.baseUrl, http10), 400, 'malformed_http_request');
    await assertStillServing(stack.baseUrl, token);
  });

  test('a keep-alive connection: a valid request, then a CL.TE one — the first is answered, the second refused, nothing runs twice', async () => {
    // (Pipelined in one write, the parser meets the bad request before the first is answered: the connection then
    // gets the 400 alone. Either way nothing smuggled runs.)
    const ok = `${head('GET', '/health', {})}\r\n`;
    const body = `0\r\n\r\n${smuggled}`;
    const bad = `${head('POST', '/v1/intents', { ...auth(), 'content-length': Buffer.byteLength(body), 'transfer-encoding': 'chunked' })}\r\n${body}`;
    const ex = await rawExchange(stack.baseUrl, [ok, { pauseMs: 500 }, bad]);
    assert.deepEqual(
      ex.responses.map((r) => r.status),
      [200, 400],
      ex.raw.slice(0, 800),
    );
    assert.equal(ex.responses[1]!.json?.code, 'malformed_http_request');
    assert.ok(ex.closedByServer);
    await assertStillServing(stack.baseUrl, token);
  });

  test('after every attempt: no intent was created, nothing was signed', async () => {
    assert.equal(await count(stack.pool, 'SELECT count(*)::int AS n FROM intents'), 0);
    assert.equal(await stack.chain.getTransactionCount({ address: stack.signerAddress }), 0);
  });
});

/**
 * Obfuscated Transfer-Encoding (TE.TE): spellings one parser reads as chunked and another ignores, so that the two
 * disagree on the body's length. Node's parser refuses every ambiguous form with 400 malformed_http_request and closes
 * the connection: an unknown final coding (`xchunked`, `chunked, identity`), `chunked` twice, a space before the
 * colon, an obs-fold continuation line, bare-LF line ends, and any of them beside a Content-Length. The forms that
 * RFC 9112 defines as plain chunked (leading space or tab before the value, upper case, `identity, chunked`) without a
 * Content-Length have one reading only and are served. After each, the gateway keeps serving.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stackWithToken } from '../support/suite.ts';
import { assertAnswered, assertRefusedAndClosed, assertStillServing, rawExchange } from '../support/raw-http.ts';

describe('obfuscated Transfer-Encoding is refused by the HTTP parser', { timeout: 180_000 }, () => {
  const ctx = stackWithToken();

  const BODY = '{"apiKey":"c402_0000000000000000_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}';
  const CHUNKED = `${Buffer.byteLength(BODY).toString(16)}\r\n${BODY}\r\n0\r\n\r\n`;
  const SMUGGLED = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  /** POST /auth/token with raw header lines (public route: the parser is the only thing in the way). */
  const request = (headerLines: string, body: string, eol = '\r\n'): string =>
    `POST /auth/token HTTP/1.1${eol}Host: 127.0.0.1${eol}Content-Type: application/json${eol}${headerLines}${eol}${body}`;

  const REFUSED: [string, string, string][] = [
    ['Transfer-Encoding: xchunked', 'Transfer-Encoding: xchunked\r\n', CHUNKED],
    [
      'Transfer-Encoding: xchunked beside Content-Length',
      `Transfer-Encoding: xchunked\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\n`,
      `${BODY}${SMUGGLED}`,
    ],
    [
      'Transfer-Encoding: " chunked" (leading space) beside Content-Length',
      `Content-Length: ${Buffer.byteLength(BODY)}\r\nTransfer-Encoding:  chunked\r\n`,
      `${BODY}${SMUGGLED}`,
    ],
    [
      'Transfer-Encoding:<TAB>chunked beside Content-Length',
      `Content-Length: ${Buffer.byteLength(BODY)}\r\nTransfer-Encoding:\tchunked\r\n`,
      `${BODY}${SMUGGLED}`,
    ],
    ['Transfer-Encoding: chunked twice', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', CHUNKED],
    [
      'Transfer-Encoding: chunked, then Transfer-Encoding: x',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n',
      CHUNKED,
    ],
    ['Transfer-Encoding: chunked, identity (chunked not last)', 'Transfer-Encoding: chunked, identity\r\n', CHUNKED],
    [
      'a space before the colon: "Transfer-Encoding : chunked"',
      `Transfer-Encoding : chunked\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\n`,
      BODY,
    ],
    [
      'obs-fold: Transfer-Encoding on a continuation line',
      `Content-Length: ${Buffer.byteLength(BODY)}\r\nX-Pad: y\r\n Transfer-Encoding: chunked\r\n`,
      BODY,
    ],
    ['Transfer-Encoding with a NUL byte', `Transfer-Encoding: chun\u0000ked\r\n`, CHUNKED],
    [
      'a chunk size that overflows 64 bits',
      'Transfer-Encoding: chunked\r\n',
      `fffffffffffffffff${Buffer.byteLength(BODY).toString(16)}\r\n${BODY}\r\n0\r\n\r\n`,
    ],
    [
      'a chunk with a bare LF after its size',
      'Transfer-Encoding: chunked\r\n',
      `${Buffer.byteLength(BODY).toString(16)}\n${BODY}\r\n0\r\n\r\n`,
    ],
  ];
  for (const [name, headers, body] of REFUSED) {
    test(`${name} → 400 malformed_http_request, connection closed`, async () => {
      assertRefusedAndClosed(
        await rawExchange(ctx.stack.baseUrl, request(headers, body)),
        400,
        'malformed_http_request',
      );
      await assertStillServing(ctx.stack.baseUrl, ctx.token);
    });
  }

  test('bare-LF line ends with Transfer-Encoding and Content-Length → 400 malformed_http_request', async () => {
    const ex = await rawExchange(
      ctx.stack.baseUrl,
      request(`Transfer-Encoding: chunked\nContent-Length: ${Buffer.byteLength(BODY)}\n`, BODY, '\n'),
    );
    assertRefusedAndClosed(ex, 400, 'malformed_http_request');
    await assertStillServing(ctx.stack.baseUrl, ctx.token);
  });

  // One reading only (RFC 9112 7.1: OWS around the value, case-insensitive codings, chunked last): the body is read
  // as chunked and the route answers (401: the API key in the body is made up). Nothing is left over on the socket.
  const SERVED: [string, string][] = [
    ['Transfer-Encoding: " chunked" alone', 'Transfer-Encoding:  chunked\r\n'],
    ['Transfer-Encoding:<TAB>chunked alone', 'Transfer-Encoding:\tchunked\r\n'],
    ['Transfer-Encoding: CHUNKED', 'Transfer-Encoding: CHUNKED\r\n'],
    ['Transfer-Encoding: identity, chunked', 'Transfer-Encoding: identity, chunked\r\n'],
  ];
  for (const [name, headers] of SERVED) {
    test(`${name} (no Content-Length) is plain chunked: read once, answered by the route`, async () => {
      const ex = await rawExchange(ctx.stack.baseUrl, request(`${headers}Connection: close\r\n`, CHUNKED));
      assert.equal(ex.responses.length, 1, ex.raw.slice(0, 600));
      assertAnswered(ex, 401, 'invalid_api_key');
      await assertStillServing(ctx.stack.baseUrl, ctx.token);
    });
  }
});

/**
 * Odd Content-Type spellings. Media types are case-insensitive and empty parameters are allowed (RFC 9110 8.3.1), so
 * `Application/JSON`, `APPLICATION/JSON; CHARSET=UTF-8` and `application/json;;` are application/json and read by the
 * one strict parser. A charset other than UTF-8 (`application/json; charset=latin1`) would be decoded as UTF-8 anyway,
 * so it is refused (415 unsupported_media_type), as are form encoding, text/plain, look-alikes and a body with no
 * Content-Type at all. The gateway keeps serving.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPIENTS } from '../support/stack.ts';
import { stackWithToken } from '../support/suite.ts';
import { assertStillServing, head, rawExchange } from '../support/raw-http.ts';

const BODY = JSON.stringify({ type: 'transfer', chainId: 31337, to: RECIPIENTS[0], asset: 'native', amount: '0.001' });

describe('odd Content-Type spellings', { timeout: 180_000 }, () => {
  const ctx = stackWithToken();

  /** POST /v1/intents over a raw socket with exactly this Content-Type header line (or none). */
  async function send(contentType: string | null): Promise<{ status: number | undefined; code: string | undefined }> {
    const headers: [string, string | number][] = [
      ['authorization', `Bearer ${ctx.token}`],
      ['content-length', Buffer.byteLength(BODY)],
      ['connection', 'close'],
    ];
    if (contentType !== null) headers.push(['content-type', contentType]);
    const ex = await rawExchange(ctx.stack.baseUrl, `${head('POST', '/v1/intents', headers)}\r\n${BODY}`, {
      waitMs: 30_000,
    });
    return { status: ex.responses[0]?.status, code: ex.responses[0]?.json?.code };
  }

  for (const contentType of [
    'application/x-www-form-urlencoded',
    'text/plain',
    'text/plain; charset=utf-8',
    'multipart/form-data; boundary=x',
    'application/jsonx',
    'application/json-patch+json',
    'application/json, text/plain',
    'application/json; charset=latin1',
    'application/json; charset=utf-16',
    'application/json;charset=',
  ]) {
    test(`Content-Type: ${contentType} → 415 unsupported_media_type`, async () => {
      assert.deepEqual(await send(contentType), { status: 415, code: 'unsupported_media_type' });
      await assertStillServing(ctx.stack.baseUrl, ctx.token);
    });
  }

  test('no Content-Type with a body → 415 unsupported_media_type', async () => {
    assert.deepEqual(await send(null), { status: 415, code: 'unsupported_media_type' });
    await assertStillServing(ctx.stack.baseUrl, ctx.token);
  });

  for (const contentType of [
    'Application/JSON',
    'APPLICATION/JSON; CHARSET=UTF-8',
    'application/json;;',
    'application/json; charset="utf-8"',
  ]) {
    test(`Content-Type: ${contentType} is application/json: one reading, the intent is created`, async () => {
      assert.deepEqual(await send(contentType), { status: 201, code: undefined });
    });
  }
});

/**
 * The request-body parser (plugins/app/json-body.ts) on its own: one reading of every body, or a refusal with the
 * catalogue's code. Over HTTP, against a listening gateway: test/hostile-http/json-*.int.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Clawd402Error, type ApiErrorCode } from '@clawd402/protocol';
import { BODY_MAX_DEPTH, parseJsonBody } from '../src/plugins/app/json-body.ts';

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

function refused(text: string, code: ApiErrorCode, contentType = 'application/json'): Clawd402Error {
  let caught: unknown;
  try {
    parseJsonBody(text, contentType);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof Clawd402Error, `${JSON.stringify(text.slice(0, 80))} should be refused`);
  assert.equal(caught.code, code);
  return caught;
}

describe('parseJsonBody', { timeout: 10_000 }, () => {
  test('a typical intent body reads as JSON.parse reads it', () => {
    const text = JSON.stringify({
      type: 'transfer',
      chainId: 31337,
      to: TO,
      asset: 'native',
      amount: '0.5',
      memo: 'invoice 42',
    });
    assert.deepEqual(parseJsonBody(text, 'application/json'), JSON.parse(text));
    assert.deepEqual(parseJsonBody(text, 'application/json; charset=utf-8'), JSON.parse(text));
    assert.deepEqual(parseJsonBody(text, 'application/json; charset="UTF-8"'), JSON.parse(text));
  });

  test('"amount" twice is json_duplicate_key, whichever comes last (the money-field parser differential)', () => {
    refused(
      `{"type":"transfer","chainId":31337,"to":"${TO}","asset":"native","amount":"1","amount":"1000"}`,
      'json_duplicate_key',
    );
    refused(
      `{"type":"transfer","chainId":31337,"to":"${TO}","asset":"native","amount":"1000","amount":"1"}`,
      'json_duplicate_key',
    );
    // The same name spelt with an escape is the same name.
    const error = refused(`{"amount":"1","\\u0061mount":"1000"}`, 'json_duplicate_key');
    assert.deepEqual(error.details, { position: 14 });
  });

  test('quotes, backslashes, colons and brackets inside strings neither hide nor invent a member or a level', () => {
    const tricky = `{"a":"x\\":","b\\\\":"\\\\","c":"${'['.repeat(100)}","d":{"e":"}:{\\"e\\":1"}}`;
    assert.deepEqual(parseJsonBody(tricky, 'application/json'), JSON.parse(tricky));
    refused('{"a\\\\":1,"a\\\\":2}', 'json_duplicate_key');
    refused('{"a":"\\"","b":{"c":1},"b":{"c":1}}', 'json_duplicate_key');
    refused('{"s":"\\\\\\"","s":1}', 'json_duplicate_key');
  });

  test('a duplicate deep inside typed data is json_duplicate_key', () => {
    refused(
      '{"typedData":{"domain":{"chainId":1},"message":{"to":{"wallet":"0x1","wallet":"0x2"}}}}',
      'json_duplicate_key',
    );
    refused('{"a":[{"b":[[{"c":1,"c":1}]]}]}', 'json_duplicate_key');
  });

  test(`nesting: ${BODY_MAX_DEPTH} levels read, ${BODY_MAX_DEPTH + 1} refused as json_too_deep`, () => {
    assert.ok(parseJsonBody(`${'['.repeat(BODY_MAX_DEPTH)}${']'.repeat(BODY_MAX_DEPTH)}`, 'application/json'));
    const error = refused(`${'['.repeat(BODY_MAX_DEPTH + 1)}${']'.repeat(BODY_MAX_DEPTH + 1)}`, 'json_too_deep');
    assert.equal(error.details?.maxDepth, BODY_MAX_DEPTH);
    refused(`${'{"a":'.repeat(BODY_MAX_DEPTH + 1)}1${'}'.repeat(BODY_MAX_DEPTH + 1)}`, 'json_too_deep');
  });

  test('10,000 open brackets are json_too_deep (refused at depth 65, not read 10,000 deep)', () => {
    refused('['.repeat(10_000), 'json_too_deep');
    refused('{"a":'.repeat(10_000), 'json_too_deep');
  });

  test('__proto__ and constructor.prototype are invalid_json at any depth, escaped or not', () => {
    for (const text of [
      '{"__proto__":{"admin":true}}',
      '{"a":{"b":[{"__proto__":{"admin":true}}]}}',
      '{"a":{"\\u005f_proto__":{"admin":true}}}',
      '{"constructor":{"prototype":{"admin":true}}}',
      '{"memo":"x","nested":[[{"constructor":{"prototype":{"admin":true}}}]]}',
    ]) {
      refused(text, 'invalid_json');
    }
    assert.equal(({} as Record<string, unknown>).admin, undefined, 'nothing was polluted');
    // A "constructor" member without a prototype is ordinary data (as with fastify's secure-json-parse).
    assert.deepEqual(parseJsonBody('{"constructor":{"name":"x"}}', 'application/json'), { constructor: { name: 'x' } });
  });

  test('a UTF-8 byte order mark, an empty body and broken JSON are invalid_json', () => {
    refused('\ufeff{"a":1}', 'invalid_json');
    refused('', 'invalid_json');
    refused('{"a":1,}', 'invalid_json');
  });

  test('a charset other than utf-8 is unsupported_media_type', () => {
    refused('{"a":1}', 'unsupported_media_type', 'application/json; charset=latin1');
    refused('{"a":1}', 'unsupported_media_type', 'application/json; charset=utf-16');
    refused('{"a":1}', 'unsupported_media_type', 'application/json;charset=');
  });
});

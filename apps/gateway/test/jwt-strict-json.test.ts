import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StrictJsonError, parseStrictJson, type StrictJsonReason } from '../src/security/jwt-strict-json.ts';

function refused(text: string, reason: StrictJsonReason, options?: { maxDepth?: number }): void {
  assert.throws(
    () => parseStrictJson(text, options),
    (error: unknown) => error instanceof StrictJsonError && error.reason === reason,
    `${JSON.stringify(text)} should be refused as ${reason}`,
  );
}

describe('parseStrictJson reads what JSON.parse reads', () => {
  const VALID = [
    '{"alg":"RS256","typ":"JWT","kid":"abc"}',
    ' { "a" : 1 , "b" : [ 1 , 2 , { "c" : null } ] } ',
    '\t\r\n{"n":-0.5e+10,"m":0,"o":1E3,"p":-12.25}\n',
    '{"s":"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00 \\ud800"}',
    '{"é":"ünïcödé","😀":"raw astral"}',
    '{"":1,"a":{"":2}}',
    '[]',
    '{}',
    '"just a string"',
    'true',
    'false',
    'null',
    '123',
    '[[[[1]]]]',
    '{"sub":"agent:1","nested":{"sub":"same name, other object"},"list":[{"k":1},{"k":2}]}',
  ];
  for (const text of VALID) {
    test(`parses ${JSON.stringify(text)} exactly like JSON.parse`, () => {
      assert.deepEqual(parseStrictJson(text), JSON.parse(text));
    });
  }

  test('a "__proto__" member is an own property, as with JSON.parse; nothing is polluted', () => {
    const value = parseStrictJson('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>;
    assert.ok(Object.hasOwn(value, '__proto__'));
    assert.deepEqual(Object.keys(value), ['__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(value, JSON.parse('{"__proto__":{"polluted":true},"a":1}'));
  });
});

describe('parseStrictJson refuses duplicated member names at any depth', () => {
  const CASES: [string, string][] = [
    ['the JWT header trick (last one wins in JSON.parse)', '{"alg":"RS256","alg":"none"}'],
    ['the reverse order (JSON.parse would keep RS256)', '{"alg":"none","typ":"JWT","alg":"RS256"}'],
    ['a duplicated claim in a payload', '{"sub":"agent:a","role":"agent","sub":"agent:b"}'],
    ['the same name with different types', '{"exp":1,"exp":"1"}'],
    ['the same name with equal values', '{"a":1,"a":1}'],
    ['an escaped spelling of the same name', '{"alg":"RS256","\\u0061lg":"none"}'],
    ['escaped in both spellings', '{"\\u0061\\u006cg":"RS256","al\\u0067":"none"}'],
    ['an escaped solidus against a plain one', '{"a/b":1,"a\\/b":2}'],
    ['two empty names', '{"":1,"":2}'],
    ['"__proto__" twice', '{"__proto__":{},"__proto__":{"admin":true}}'],
    ['inside a nested object', '{"a":{"b":1,"b":2}}'],
    ['inside an object in an array', '{"list":[{"k":1},{"k":1,"k":2}]}'],
    ['deep down', '[[[{"x":{"y":{"z":1,"z":2}}}]]]'],
    ['with whitespace around the names', '{ "kid" : "a" , "kid" : "b" }'],
  ];
  for (const [name, text] of CASES) {
    test(name, () => refused(text, 'duplicate_key'));
  }

  test('the error names the position of the second name', () => {
    const text = '{"alg":"RS256","alg":"none"}';
    assert.throws(
      () => parseStrictJson(text),
      (error: unknown) => error instanceof StrictJsonError && error.position === text.lastIndexOf('"alg"'),
    );
  });

  test('equal names in different objects are not duplicates', () => {
    assert.deepEqual(parseStrictJson('{"a":{"k":1},"b":{"k":2},"k":3}'), { a: { k: 1 }, b: { k: 2 }, k: 3 });
  });

  test('names differing only in case or Unicode normalisation are distinct (as in JSON)', () => {
    assert.deepEqual(Object.keys(parseStrictJson('{"alg":1,"ALG":2,"Alg":3}') as object), ['alg', 'ALG', 'Alg']);
    assert.deepEqual(Object.keys(parseStrictJson('{"\\u00e9":1,"e\\u0301":2}') as object).length, 2);
  });
});

describe('parseStrictJson refuses what is not JSON', () => {
  const CASES: [string, string][] = [
    ['empty text', ''],
    ['only whitespace', '  '],
    ['a trailing comma in an object', '{"a":1,}'],
    ['a trailing comma in an array', '[1,]'],
    ['a comment', '{"a":1 /* c */}'],
    ['a line comment', '{"a":1}// c'],
    ['single quotes', "{'a':1}"],
    ['an unquoted name', '{a:1}'],
    ['a leading zero', '{"a":01}'],
    ['a leading plus', '{"a":+1}'],
    ['a bare minus', '{"a":-}'],
    ['a bare fraction', '{"a":.5}'],
    ['a trailing dot', '{"a":1.}'],
    ['NaN', '{"a":NaN}'],
    ['Infinity', '{"a":Infinity}'],
    ['hex', '{"a":0x10}'],
    ['a raw newline in a string', '{"a":"x\ny"}'],
    ['a raw NUL in a string', '{"a":"x\u0000"}'],
    ['a bad escape', '{"a":"\\x41"}'],
    ['a short \\u escape', '{"a":"\\u41"}'],
    ['an unterminated string', '{"a":"abc'],
    ['an unterminated object', '{"a":1'],
    ['a missing colon', '{"a" 1}'],
    ['a missing comma', '{"a":1 "b":2}'],
    ['text after the value', '{"a":1} x'],
    ['two values', '{} {}'],
    ['a misspelt literal', '{"a":tru}'],
    ['a capitalised literal', '{"a":True}'],
    ['a non-JSON whitespace (NBSP)', '\u00a0{}'],
    ['a BOM', '\ufeff{}'],
  ];
  for (const [name, text] of CASES) {
    test(name, () => {
      refused(text, 'syntax');
      assert.throws(() => JSON.parse(text), SyntaxError, 'JSON.parse refuses it too');
    });
  }
});

describe('parseStrictJson bounds nesting', () => {
  test('nesting up to maxDepth is read; one deeper is refused', () => {
    assert.deepEqual(parseStrictJson('[[[1]]]', { maxDepth: 3 }), [[[1]]]);
    refused('[[[[1]]]]', 'too_deep', { maxDepth: 3 });
    refused('{"a":{"b":{"c":{}}}}', 'too_deep', { maxDepth: 3 });
  });

  test('the default depth (32) refuses a deep document without exhausting the stack', () => {
    refused(`${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'too_deep');
    assert.equal((parseStrictJson(`${'['.repeat(32)}${']'.repeat(32)}`) as unknown[]).length, 1);
  });
});

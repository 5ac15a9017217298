/**
 * A strict JSON parser for JWT headers and claims and for every HTTP request body (plugins/app/json-body.ts).
 * `JSON.parse` silently keeps the last of two equal member names, so
 * `{"alg":"RS256","alg":"none"}` means one thing to one parser and another thing to the next. This parser accepts
 * exactly RFC 8259 JSON, as `JSON.parse` does, and refuses instead of choosing:
 *
 * - a member name that appears twice in one object, at any depth. Names are compared after unescaping, so
 *   `"alg"` and `"\u0061lg"` are the same name;
 * - nesting deeper than `maxDepth` (default 32);
 * - anything `JSON.parse` would refuse: trailing commas, comments, single quotes, leading zeros, raw control
 *   characters in strings, text after the value.
 *
 * - with `refusePrototypeKeys`, a `__proto__` member, or a `constructor` member whose value is an object with a
 *   `prototype` member, at any depth (what secure-json-parse refuses with protoAction/constructorAction 'error').
 *
 * Every refusal is a `StrictJsonError`. The value it returns is the value `JSON.parse` would return for the same text
 * (a `__proto__` member becomes an own data property, as with `JSON.parse`).
 *
 * @example
 * parseStrictJson('{"alg":"RS256","typ":"JWT"}'); // { alg: 'RS256', typ: 'JWT' }
 * parseStrictJson('{"alg":"RS256","alg":"none"}'); // throws StrictJsonError, reason 'duplicate_key'
 */
export type StrictJsonReason = 'syntax' | 'duplicate_key' | 'too_deep' | 'prototype_key';

export class StrictJsonError extends Error {
  constructor(
    readonly reason: StrictJsonReason,
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'StrictJsonError';
  }
}

export interface StrictJsonOptions {
  /** Deepest nesting of objects and arrays accepted; the top-level value is depth 1. Default 32. */
  maxDepth?: number;
  /** Refuse `__proto__` members and `constructor: { prototype: … }` at any depth (reason 'prototype_key'). Default false. */
  refusePrototypeKeys?: boolean;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
// eslint-disable-next-line no-control-regex -- a raw control character in JSON text is what sends it to the strict reader
const NEEDS_SLOW_PATH = /[\\\u0000-\u001f]/;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

export function parseStrictJson(text: string, options: StrictJsonOptions = {}): unknown {
  const maxDepth = options.maxDepth ?? 32;
  const refusePrototypeKeys = options.refusePrototypeKeys ?? false;
  // Fast path, for the bodies that are fine (nearly all of them): one scan counts member names and measures depth,
  // JSON.parse (native) reads the value, and a walk counts the own keys it produced. JSON.parse accepts exactly the
  // grammar readStrict accepts and keeps one member per name, so equal counts mean no name was repeated. Anything
  // else (too deep, not JSON, a repeated name, a prototype key) goes to readStrict, which names the reason and the
  // position: one definition of what is refused.
  const names = scanNamesAndDepth(text, maxDepth);
  if (names >= 0) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return readStrict(text, maxDepth, refusePrototypeKeys);
    }
    if (countOwnMembers(value, refusePrototypeKeys) === names) return value;
  }
  return readStrict(text, maxDepth, refusePrototypeKeys);
}

/**
 * Member names in `text` (strings followed by ':'), or -1 when nesting goes deeper than `maxDepth`. Exact for valid
 * JSON, which is all the fast path keeps; on anything else its answer is only a hint.
 */
function scanNamesAndDepth(text: string, maxDepth: number): number {
  let names = 0;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip to the closing quote: the next '"' preceded by an even number of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i === -1) return names;
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === 0x5c) slashes += 1;
        if (slashes % 2 === 0) break;
      }
      let j = i + 1;
      while (j < n) {
        const w = text.charCodeAt(j);
        if (w !== 0x20 && w !== 0x09 && w !== 0x0a && w !== 0x0d) break;
        j += 1;
      }
      if (text.charCodeAt(j) === 0x3a) names += 1;
    } else if (c === 0x7b || c === 0x5b) {
      depth += 1;
      if (depth > maxDepth) return -1;
    } else if (c === 0x7d || c === 0x5d) {
      depth -= 1;
    }
  }
  return names;
}

/** Own members of every object in a JSON.parse result, or -1 on a prototype key (when refused). */
function countOwnMembers(value: unknown, refusePrototypeKeys: boolean): number {
  if (value === null || typeof value !== 'object') return 0;
  let total = 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      const inner = countOwnMembers(item, refusePrototypeKeys);
      if (inner < 0) return -1;
      total += inner;
    }
    return total;
  }
  const object = value as Record<string, unknown>;
  if (refusePrototypeKeys) {
    if (Object.hasOwn(object, '__proto__')) return -1;
    const ctor = Object.hasOwn(object, 'constructor') ? object.constructor : undefined;
    if (ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype')) return -1;
  }
  for (const key in object) {
    total += 1;
    const inner = countOwnMembers(object[key], refusePrototypeKeys);
    if (inner < 0) return -1;
    total += inner;
  }
  return total;
}

/** The reference reader: refuses with the reason and position, or returns what JSON.parse returns. */
function readStrict(text: string, maxDepth: number, refusePrototypeKeys: boolean): unknown {
  let i = 0;

  const fail = (reason: StrictJsonReason, message: string, at = i): never => {
    throw new StrictJsonError(reason, `${message} at position ${at}`, at);
  };

  const skipWhitespace = (): void => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      i += 1;
    }
  };

  /** Step over `char` when it is next; whether it was. */
  const eat = (char: string): boolean => {
    if (text[i] !== char) return false;
    i += 1;
    return true;
  };

  const parseString = (): string => {
    // text[i] is the opening quote. Fast path: no escape and no control character before the closing quote.
    i += 1;
    const end = text.indexOf('"', i);
    if (end !== -1) {
      const raw = text.slice(i, end);
      if (!NEEDS_SLOW_PATH.test(raw)) {
        i = end + 1;
        return raw;
      }
    }
    let out = '';
    let start = i;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i += 1;
        return out;
      }
      if (c < 0x20) fail('syntax', 'unescaped control character in string');
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1];
        if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!HEX4.test(hex)) fail('syntax', 'bad \\u escape');
          out += String.fromCharCode(Number.parseInt(hex, 16));
          i += 6;
        } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
          out += ESCAPES[e]!;
          i += 2;
        } else {
          fail('syntax', 'bad escape');
        }
        start = i;
        continue;
      }
      i += 1;
    }
    return fail('syntax', 'unterminated string');
  };

  const parseValue = (depth: number): unknown => {
    skipWhitespace();
    const c = text[i];
    switch (c) {
      case '{': {
        if (depth > maxDepth) fail('too_deep', `nesting deeper than ${maxDepth}`);
        i += 1;
        const object: Record<string, unknown> = {};
        skipWhitespace();
        if (eat('}')) return object;
        for (;;) {
          skipWhitespace();
          if (text[i] !== '"') fail('syntax', 'expected a member name');
          const at = i;
          const name = parseString();
          if (Object.hasOwn(object, name)) fail('duplicate_key', 'duplicate member name', at);
          if (refusePrototypeKeys && name === '__proto__') fail('prototype_key', 'a "__proto__" member', at);
          skipWhitespace();
          if (!eat(':')) fail('syntax', "expected ':'");
          const value = parseValue(depth + 1);
          if (
            refusePrototypeKeys &&
            name === 'constructor' &&
            value !== null &&
            typeof value === 'object' &&
            Object.hasOwn(value, 'prototype')
          ) {
            fail('prototype_key', 'a "constructor" member with a "prototype"', at);
          }
          // A "__proto__" member must be an own property (as with JSON.parse), never the prototype: assignment would
          // call the __proto__ setter. Every other name is an ordinary own property.
          if (name === '__proto__')
            Object.defineProperty(object, name, { value, writable: true, enumerable: true, configurable: true });
          else object[name] = value;
          skipWhitespace();
          if (eat(',')) continue;
          if (eat('}')) return object;
          fail('syntax', "expected ',' or '}'");
        }
      }
      case '[': {
        if (depth > maxDepth) fail('too_deep', `nesting deeper than ${maxDepth}`);
        i += 1;
        const array: unknown[] = [];
        skipWhitespace();
        if (eat(']')) return array;
        for (;;) {
          array.push(parseValue(depth + 1));
          skipWhitespace();
          if (eat(',')) continue;
          if (eat(']')) return array;
          fail('syntax', "expected ',' or ']'");
        }
      }
      case '"':
        return parseString();
      case 't':
        return literal('true', true);
      case 'f':
        return literal('false', false);
      case 'n':
        return literal('null', null);
      default: {
        NUMBER.lastIndex = i;
        const match = NUMBER.exec(text);
        if (!match) return fail('syntax', 'unexpected character');
        i += match[0].length;
        return Number(match[0]);
      }
    }
  };

  const literal = <T>(word: string, value: T): T => {
    if (!text.startsWith(word, i)) fail('syntax', 'unexpected character');
    i += word.length;
    return value;
  };

  const value = parseValue(1);
  skipWhitespace();
  if (i !== text.length) fail('syntax', 'unexpected text after the value');
  return value;
}

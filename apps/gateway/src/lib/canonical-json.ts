import canonicalizeModule from 'canonicalize';

// `canonicalize` is CommonJS (`module.exports = fn`) shipped with ESM-style typings; accept either shape.
const canonicalize = (
  typeof canonicalizeModule === 'function' ? canonicalizeModule : (canonicalizeModule as { default: unknown }).default
) as (value: unknown) => string | undefined;

/** RFC 8785 (JCS) canonical JSON: the same value always gives the same bytes, whatever the key order. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value is not JSON-serialisable');
  return text;
}

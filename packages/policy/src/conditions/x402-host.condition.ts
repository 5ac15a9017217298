import Type from 'typebox';
import { defineCondition } from '../condition.ts';

const Host = Type.String({ minLength: 1, maxLength: 253, pattern: '^(\\*\\.)?[A-Za-z0-9.-]+$' });

/**
 * `x402_host`: the x402 payment's resource host is one of these (case-insensitive). `*.example.com` matches every
 * host under example.com, not example.com itself. Unknown for an intent that is not an x402 payment.
 */
export const x402HostCondition = defineCondition({
  key: 'x402_host',
  description:
    "Holds when an x402 payment's resource host is the given one or one of the listed ones (`*.example.com`: any host under it).",
  expects: 'a host name such as "api.example.com" or "*.example.com", or a non-empty list of them',
  facts: ['x402'],
  schema: Type.Union([Host, Type.Array(Host, { minItems: 1, maxItems: 1000 })]),
  compile(value) {
    const hosts = (typeof value === 'string' ? [value] : value).map((h) => h.toLowerCase());
    const exact = new Set(hosts.filter((h) => !h.startsWith('*.')));
    const suffixes = hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1));
    return (facts) => {
      const host = facts.x402?.host;
      if (typeof host !== 'string') return 'unknown';
      const h = host.toLowerCase();
      return exact.has(h) || suffixes.some((suffix) => h.endsWith(suffix));
    };
  },
});

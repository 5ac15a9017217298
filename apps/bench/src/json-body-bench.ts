/**
 * What the strict request-body parser (apps/gateway/src/plugins/app/json-body.ts: duplicate keys, depth and prototype
 * keys refused) costs beside `JSON.parse` and beside secure-json-parse (fastify's default parser, which it replaced),
 * on the bodies the gateway reads on every intent. In process, one core, no HTTP. Nothing is asserted.
 *
 * Each parser runs in interleaved slices (BENCH_JSON_ROUNDS, default 5, of BENCH_JSON_MS each, default 300 ms) so
 * that a noisy neighbour hits them alike; the figure is the median slice's nanoseconds per parse.
 */
import { createRequire } from 'node:module';
import { parseJsonBody } from '@clawd402/gateway/json-body';
import { RECIPIENTS } from '@clawd402/gateway/testing';
import { EIP712_DOMAIN_TYPES, PERMIT_TYPES } from '@clawd402/testkit';

const ROUNDS = Number(process.env.BENCH_JSON_ROUNDS ?? 5);
const SLICE_MS = Number(process.env.BENCH_JSON_MS ?? 300);

// fastify's own dependency, reached through fastify (it is not a dependency of this package).
const secureJson = createRequire(import.meta.resolve('fastify'))('secure-json-parse') as {
  parse(text: string, reviver: null, options: { protoAction: 'error'; constructorAction: 'error' }): unknown;
};

export interface JsonBodyRow {
  body: string;
  bytes: number;
  jsonParseNs: number;
  secureJsonNs: number;
  strictNs: number;
}

const BODIES: Record<string, string> = {
  'transfer intent': JSON.stringify({
    type: 'transfer',
    chainId: 31337,
    to: RECIPIENTS[0],
    asset: 'native',
    amount: '0.001',
    memo: 'invoice 2024-117 for compute',
  }),
  'contract call (1 KiB calldata)': JSON.stringify({
    type: 'contract_call',
    chainId: 31337,
    to: RECIPIENTS[1],
    data: `0xa9059cbb${'0'.repeat(1016)}`,
    value: '0',
  }),
  'typed data (permit)': JSON.stringify({
    type: 'typed_data',
    chainId: 31337,
    typedData: {
      types: { ...EIP712_DOMAIN_TYPES, ...PERMIT_TYPES },
      primaryType: 'Permit',
      domain: { name: 'USD Coin', version: '2', chainId: 31337, verifyingContract: RECIPIENTS[2] },
      message: { owner: RECIPIENTS[3], spender: RECIPIENTS[4], value: '1000000', nonce: '0', deadline: '1893456000' },
    },
  }),
};

/** Nanoseconds per call of `fn(text)`, one slice of `ms` milliseconds. */
function slice(fn: (text: string) => unknown, text: string, ms: number): number {
  let n = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 1_000; i += 1) sink += fn(text) === null ? 1 : 0;
    n += 1_000;
    now = process.hrtime.bigint();
  }
  if (sink === -1) console.log(sink); // keep the results alive
  return Number(now - start) / n;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function jsonBodyBench(): JsonBodyRow[] {
  const parsers: Record<'jsonParseNs' | 'secureJsonNs' | 'strictNs', (text: string) => unknown> = {
    jsonParseNs: (text): unknown => JSON.parse(text),
    secureJsonNs: (text) => secureJson.parse(text, null, { protoAction: 'error', constructorAction: 'error' }),
    strictNs: (text) => parseJsonBody(text, 'application/json'),
  };
  const rows: JsonBodyRow[] = [];
  for (const [body, text] of Object.entries(BODIES)) {
    for (const fn of Object.values(parsers)) slice(fn, text, 50); // warm up
    const samples = { jsonParseNs: [] as number[], secureJsonNs: [] as number[], strictNs: [] as number[] };
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, fn] of Object.entries(parsers) as [keyof typeof samples, (t: string) => unknown][])
        samples[name].push(slice(fn, text, SLICE_MS));
    }
    rows.push({
      body,
      bytes: Buffer.byteLength(text),
      jsonParseNs: median(samples.jsonParseNs),
      secureJsonNs: median(samples.secureJsonNs),
      strictNs: median(samples.strictNs),
    });
  }
  return rows;
}

export function printJsonBodyRows(rows: JsonBodyRow[]): void {
  console.log(
    '\n| body (strict JSON parser) | bytes | JSON.parse ns | secure-json-parse ns | strict ns | strict ÷ JSON.parse | strict ÷ secure-json-parse |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.body} | ${r.bytes} | ${r.jsonParseNs.toFixed(0)} | ${r.secureJsonNs.toFixed(0)} | ${r.strictNs.toFixed(0)} | ${(r.strictNs / r.jsonParseNs).toFixed(2)} | ${(r.strictNs / r.secureJsonNs).toFixed(2)} |`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) printJsonBodyRows(jsonBodyBench());

/**
 * Does `POST /auth/token` tell an attacker which API key ids exist? An API key is `c402_<16 hex key id>_<secret>`
 * (apps/gateway/src/security/api-keys.ts): the key id is looked up in Postgres, then the secret is checked with
 * argon2id against the stored hash, or, for an unknown id, against a dummy hash with the same parameters. Both
 * answer 401 invalid_api_key; this measures whether they take the same time.
 *
 *   unknown id    c402_<random key id>_<random secret>         (no such row)
 *   known id      c402_<a live agent's key id>_<random secret> (the row exists, the secret is wrong)
 *
 * The two kinds are sent one at a time (no queueing), in a shuffled order (so drift, GC and neighbours hit both
 * alike), over one keep-alive connection, after a warm-up, against the gateway of the given stack. Reported: median,
 * p10, p90 and mean per kind, the difference of medians, a Mann-Whitney U test (normal approximation: timings are
 * continuous, ties negligible) and a two-sample Kolmogorov-Smirnov test (asymptotic p). A p-value well above 0.05
 * says the timings cannot be told apart at this sample size. Nothing is asserted.
 * Options: BENCH_AUTH_SAMPLES (default 200 per kind), BENCH_AUTH_WARMUP (default 20 per kind).
 */
import { randomBytes } from 'node:crypto';
import { errorFunction, median, quantile, wilcoxonRankSum } from 'simple-statistics';
import { startStack, type Stack } from '@clawd402/gateway/testing';

export interface SampleSummary {
  n: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  meanMs: number;
}

export interface AuthTimingResult {
  unknownId: SampleSummary;
  knownIdWrongSecret: SampleSummary;
  /** known − unknown, in milliseconds. */
  medianDifferenceMs: number;
  mannWhitney: { u: number; z: number; p: number };
  kolmogorovSmirnov: { d: number; p: number };
  /** Answers other than 401 invalid_api_key (should be 0). */
  unexpected: number;
}

const randomSecret = (): string => randomBytes(32).toString('base64url');

/** Two-sided Mann-Whitney U from the Wilcoxon rank sum of `x`, normal approximation with continuity correction. */
export function mannWhitney(x: number[], y: number[]): { u: number; z: number; p: number } {
  const n1 = x.length;
  const n2 = y.length;
  const u = wilcoxonRankSum(x, y) - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const sd = Math.sqrt((n1 * n2 * (n1 + n2 + 1)) / 12);
  const z = (Math.abs(u - mean) - 0.5) / sd;
  const phi = 0.5 * (1 + errorFunction(Math.max(0, z) / Math.SQRT2));
  return { u, z: Math.sign(u - mean) * Math.max(0, z), p: Math.min(1, 2 * (1 - phi)) };
}

/** Two-sample Kolmogorov-Smirnov: D = sup |F_x − F_y|, p from the asymptotic Kolmogorov distribution. */
export function kolmogorovSmirnov(x: number[], y: number[]): { d: number; p: number } {
  const a = [...x].sort((p, q) => p - q);
  const b = [...y].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    const v = Math.min(a[i]!, b[j]!);
    while (i < a.length && a[i]! <= v) i += 1;
    while (j < b.length && b[j]! <= v) j += 1;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  const ne = (a.length * b.length) / (a.length + b.length);
  const lambda = (Math.sqrt(ne) + 0.12 + 0.11 / Math.sqrt(ne)) * d;
  let p = 0;
  for (let k = 1; k <= 100; k += 1) p += 2 * (-1) ** (k - 1) * Math.exp(-2 * k * k * lambda * lambda);
  return { d, p: Math.min(1, Math.max(0, lambda < 0.2 ? 1 : p)) };
}

function summarise(ms: number[]): SampleSummary {
  return {
    n: ms.length,
    medianMs: median(ms),
    p10Ms: quantile(ms, 0.1),
    p90Ms: quantile(ms, 0.9),
    meanMs: ms.reduce((s, v) => s + v, 0) / ms.length,
  };
}

export async function authTimingBench(
  stack: Stack,
  options: { samples?: number; warmup?: number } = {},
): Promise<AuthTimingResult> {
  const samples = options.samples ?? Number(process.env.BENCH_AUTH_SAMPLES ?? 200);
  const warmup = options.warmup ?? Number(process.env.BENCH_AUTH_WARMUP ?? 20);
  // A live agent's key id: the part between the prefix and the secret of the key the stack issued.
  const knownKeyId = /^c402_([0-9a-f]{16})_/.exec(stack.agent.apiKey)![1]!;
  const keyFor = (kind: 'unknown' | 'known'): string =>
    `c402_${kind === 'known' ? knownKeyId : randomBytes(8).toString('hex')}_${randomSecret()}`;

  let unexpected = 0;
  const time = async (kind: 'unknown' | 'known'): Promise<number> => {
    const body = JSON.stringify({ apiKey: keyFor(kind) });
    const started = performance.now();
    const res = await fetch(`${stack.baseUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const text = await res.text();
    const elapsed = performance.now() - started;
    if (res.status !== 401 || !text.includes('"invalid_api_key"')) unexpected += 1;
    return elapsed;
  };

  const order: ('unknown' | 'known')[] = [];
  for (let i = 0; i < samples; i += 1) order.push('unknown', 'known');
  for (let i = order.length - 1; i > 0; i -= 1) {
    const j = randomBytes(4).readUInt32BE() % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (let i = 0; i < warmup; i += 1) {
    await time('unknown');
    await time('known');
  }
  unexpected = 0;
  const unknown: number[] = [];
  const known: number[] = [];
  for (const kind of order) (kind === 'known' ? known : unknown).push(await time(kind));

  return {
    unknownId: summarise(unknown),
    knownIdWrongSecret: summarise(known),
    medianDifferenceMs: median(known) - median(unknown),
    mannWhitney: mannWhitney(known, unknown),
    kolmogorovSmirnov: kolmogorovSmirnov(known, unknown),
    unexpected,
  };
}

export function printAuthTimingRows(r: AuthTimingResult): void {
  const f = (n: number): string => n.toFixed(2);
  console.log('\n| POST /auth/token (401 invalid_api_key) | n | median ms | p10 ms | p90 ms | mean ms |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, s] of [
    ['unknown key id', r.unknownId],
    ['known key id, wrong secret', r.knownIdWrongSecret],
  ] as const) {
    console.log(`| ${name} | ${s.n} | ${f(s.medianMs)} | ${f(s.p10Ms)} | ${f(s.p90Ms)} | ${f(s.meanMs)} |`);
  }
  console.log(
    `\nknown − unknown median: ${f(r.medianDifferenceMs)} ms (${((r.medianDifferenceMs / r.unknownId.medianMs) * 100).toFixed(1)} %); ` +
      `Mann-Whitney U = ${r.mannWhitney.u.toFixed(0)}, z = ${r.mannWhitney.z.toFixed(2)}, p = ${r.mannWhitney.p.toFixed(3)}; ` +
      `Kolmogorov-Smirnov D = ${r.kolmogorovSmirnov.d.toFixed(3)}, p = ${r.kolmogorovSmirnov.p.toFixed(3)}; unexpected answers: ${r.unexpected}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stack = await startStack({ tracker: false });
  try {
    printAuthTimingRows(await authTimingBench(stack));
  } finally {
    await stack.stop();
  }
}

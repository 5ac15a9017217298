/**
 * Crash fault injection for the crash tests (docs/recovery.md, "Crashes"). The gateway and the signer call
 * `faultPoint(name)` at the named points of the signing path; the call does nothing unless the process was armed at
 * start (`FAULT_POINT` for the gateway, `SIGNER_FAULT_POINT` for the signer), which only `NODE_ENV=test` allows —
 * both loaders refuse the variable in production and in development. When the armed point is reached for the armed
 * time, the process sends itself SIGKILL: no handler, no flush, no `finally` runs, exactly as when the host dies.
 */

/** The gateway's named points, in the order the intent path reaches them. */
export const GATEWAY_FAULT_POINTS = [
  /** Stage 8: intents decided, recorded and reserved inside the transaction, before COMMIT. */
  'reserve.before_commit',
  /** Stage 10: the nonce row is locked and the batch's nonces allocated, before any ticket is issued. */
  'sign.after_nonce',
  /** Stage 10: a ticket was issued for one transaction, before the signer is called. */
  'sign.after_ticket',
  /** Stage 10: the signer replied for the whole batch, before the signed transactions are stored (COMMIT). */
  'sign.after_signer_reply',
  /** Stage 11: the signed transaction is stored, before it is broadcast. */
  'submit.before_broadcast',
  /** Stage 11: the transaction was broadcast, before `submitted` is written. */
  'submit.after_broadcast',
  /** Stage 13: the tracker holds the receipt, before the intent's ending is written. */
  'settle.before_write',
] as const;

/** The signer's named points. */
export const SIGNER_FAULT_POINTS = [
  /** The signature is made and its nonce claim journalled durably, before the reply leaves the signer. */
  'signer.after_sign',
] as const;

export type FaultPointName = (typeof GATEWAY_FAULT_POINTS)[number] | (typeof SIGNER_FAULT_POINTS)[number];

/** An armed point: the process dies the `hit`-th time it reaches `point` (1 = the first time). */
export interface FaultPointSpec {
  point: FaultPointName;
  hit: number;
}

/**
 * Parse `<point>` or `<point>:<n>` (die at the n-th time the point is reached) against the process's `known` points.
 * Answers null for an empty value; throws an Error naming the problem otherwise.
 */
export function parseFaultPoint(
  raw: string | undefined,
  known: readonly FaultPointName[],
  nodeEnv: string | undefined,
): FaultPointSpec | null {
  if (raw === undefined || raw === '') return null;
  if (nodeEnv !== 'test') throw new Error('is a test-only crash hook: it is refused unless NODE_ENV=test');
  const match = /^([a-z_.]+)(?::([1-9]\d{0,5}))?$/.exec(raw);
  const point = match?.[1] as FaultPointName | undefined;
  if (!point || !known.includes(point)) throw new Error(`must be one of ${known.join(', ')} (optionally :N)`);
  return { point, hit: match?.[2] ? Number(match[2]) : 1 };
}

let armed: { point: FaultPointName; remaining: number } | null = null;

/** Arm this process (once, at start, from its loader's parsed setting); null leaves every point inert. */
export function armFaultPoint(spec: FaultPointSpec | null): void {
  armed = spec ? { point: spec.point, remaining: spec.hit } : null;
}

/** A named point: SIGKILL this process here if it is the armed one and its time has come; otherwise nothing. */
export function faultPoint(name: FaultPointName): void {
  if (armed?.point !== name) return;
  armed.remaining -= 1;
  if (armed.remaining === 0) process.kill(process.pid, 'SIGKILL');
}

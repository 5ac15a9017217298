/**
 * US dollars as integers: micro-USD (1 USD = 1,000,000) in bigint. Every USD figure the gateway stores, compares or
 * returns goes through here, so no float ever touches money.
 */
export type UsdMicros = bigint;

export const MICROS_PER_USD = 1_000_000n;

const USD_TEXT = /^(0|[1-9][0-9]{0,15})(\.[0-9]{1,6})?$/;

/** Parse "12.5" / 12.5 into micro-USD; null for anything that is not a plain non-negative decimal with ≤ 6 places. */
export function parseUsd(value: unknown): UsdMicros | null {
  const text = typeof value === 'number' ? (Number.isFinite(value) && value >= 0 ? String(value) : '') : value;
  if (typeof text !== 'string' || !USD_TEXT.test(text)) return null;
  const [whole, fraction = ''] = text.split('.');
  return BigInt(whole!) * MICROS_PER_USD + BigInt((fraction + '000000').slice(0, 6));
}

/** Micro-USD as a decimal string with up to 6 places ("12.5", "0.000001", "-3"). */
export function formatUsd(micros: UsdMicros): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const whole = abs / MICROS_PER_USD;
  const fraction = (abs % MICROS_PER_USD).toString().padStart(6, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** ceil(a / b) for non-negative bigints: valuations round against the agent. */
export function divCeil(a: bigint, b: bigint): bigint {
  return a === 0n ? 0n : (a - 1n) / b + 1n;
}

/**
 * Value `amount` base units of an asset with `decimals` at `priceMicros` micro-USD per whole unit, rounded up.
 * 0.005 ETH at 2,000 USD → 10,000,000 (10 USD).
 */
export function valueOf(amount: bigint, decimals: number, priceMicros: UsdMicros): UsdMicros {
  return divCeil(amount * priceMicros, 10n ** BigInt(decimals));
}

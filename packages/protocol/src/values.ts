import { getAddress, type Address } from 'viem';
import { Clawd402Error } from './errors.ts';

const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
const HEX_DATA = /^0x(?:[0-9a-fA-F]{2})*$/;
const MAX_UINT256 = (1n << 256n) - 1n;
export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000' as const;

/**
 * Parse an address an agent sent. All-lowercase and all-uppercase forms carry no checksum and are accepted (as
 * wallets do); a mixed-case address must pass EIP-55. Returns the checksummed form.
 */
export function parseAddress(field: string, value: string): Address {
  if (!HEX_ADDRESS.test(value)) {
    throw new Clawd402Error('invalid_address', `${field} is not a 0x-prefixed 20-byte hex address.`, {
      details: { field },
    });
  }
  const body = value.slice(2);
  const checksummed = getAddress(value.toLowerCase());
  const mixed = body !== body.toLowerCase() && body !== body.toUpperCase();
  if (mixed && checksummed !== value) {
    throw new Clawd402Error('invalid_address_checksum', `${field} fails its EIP-55 checksum.`, { details: { field } });
  }
  return checksummed;
}

/** Parse a recipient: an address that must not be the zero address. */
export function parseRecipient(field: string, value: string): Address {
  const address = parseAddress(field, value);
  if (address === ZERO_ADDRESS) {
    throw new Clawd402Error('zero_address_recipient', `${field} is the zero address.`, { details: { field } });
  }
  return address;
}

/**
 * Parse a decimal string in an asset's units ("1.5" ETH) into base units (wei). Refuses signs, exponents, leading
 * zeros, more fractional digits than `decimals`, and values above 2^256 - 1. Never goes through floating point.
 */
export function parseAmount(field: string, value: string, decimals: number): bigint {
  if (value.length > 100 || !DECIMAL.test(value)) {
    throw new Clawd402Error('invalid_amount', `${field} must be a non-negative decimal string such as "1.5".`, {
      details: { field },
    });
  }
  const [whole = '0', fraction = ''] = value.split('.');
  if (fraction.length > decimals) {
    throw new Clawd402Error('amount_too_precise', `${field} has more than ${decimals} fractional digits.`, {
      details: { field, decimals },
    });
  }
  const units = BigInt(whole) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0');
  if (units > MAX_UINT256) {
    throw new Clawd402Error('amount_overflow', `${field} does not fit in 256 bits.`, { details: { field } });
  }
  return units;
}

/** Check that a string is a plain non-negative decimal, without converting it (e.g. before decimals are known). */
export function assertDecimalString(field: string, value: string): void {
  if (value.length > 100 || !DECIMAL.test(value)) {
    throw new Clawd402Error('invalid_amount', `${field} must be a non-negative decimal string such as "1.5".`, {
      details: { field },
    });
  }
}

/** Format base units back into a decimal string in the asset's units, without trailing zeros. */
export function formatAmount(units: bigint, decimals: number): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const base = 10n ** BigInt(decimals);
  const whole = abs / base;
  const fraction = (abs % base).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Parse 0x-prefixed calldata. */
export function parseCalldata(field: string, value: string): `0x${string}` {
  if (!HEX_DATA.test(value)) {
    throw new Clawd402Error('invalid_calldata', `${field} must be 0x-prefixed hex with an even number of digits.`, {
      details: { field },
    });
  }
  return value.toLowerCase() as `0x${string}`;
}

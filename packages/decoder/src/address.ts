import { getAddress, type Address } from 'viem';

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * The checksummed address, or null. Same rule as the protocol's `parseAddress`: all-lowercase or all-uppercase hex
 * carries no checksum and is accepted; mixed case must pass EIP-55.
 */
export function readAddress(value: unknown): Address | null {
  if (typeof value !== 'string' || !ADDRESS.test(value)) return null;
  const body = value.slice(2);
  const checksummed = getAddress(`0x${body.toLowerCase()}`);
  if (body !== body.toLowerCase() && body !== body.toUpperCase() && checksummed !== value) return null;
  return checksummed;
}

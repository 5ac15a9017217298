import * as OTPAuth from 'otpauth';

/** RFC 6238 TOTP as authenticator apps expect it: SHA-1, 6 digits, 30-second steps, one step of drift allowed. */
const PERIOD = 30;

function totp(secretBase32: string, label = 'clawd402', issuer = 'Clawd402'): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
    secret: OTPAuth.Secret.fromBase32(secretBase32),
  });
}

/** A fresh 160-bit secret (base32) and its otpauth:// URI for a QR code. */
export function newTotpSecret(username: string, issuer: string): { secret: string; uri: string } {
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  return { secret, uri: totp(secret, username, issuer).toString() };
}

/**
 * The time step a code belongs to if it is valid now (±1 step) and later than `lastStep`, else null. Storing the
 * returned step as the new `lastStep` makes every code single-use.
 */
export function acceptTotp(
  secretBase32: string,
  code: string,
  lastStep: number | null,
  now = Date.now(),
): number | null {
  if (!/^[0-9]{6}$/.test(code)) return null;
  const delta = totp(secretBase32).validate({ token: code, window: 1, timestamp: now });
  if (delta === null) return null;
  const step = Math.floor(now / 1000 / PERIOD) + delta;
  return lastStep !== null && step <= lastStep ? null : step;
}

import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header a generic webhook delivery carries: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'x-clawd402-signature';

/** Receivers should refuse deliveries signed longer ago (or further ahead) than this. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

function mac(secret: string, timestamp: number, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/**
 * The signature header for `body` sent at `timestampSec`: HMAC-SHA256 with the channel secret over
 * `${timestamp}.${body}` (the exact bytes sent), hex-encoded.
 */
export function signWebhook(secret: string, body: string | Uint8Array, timestampSec: number): string {
  return `t=${timestampSec},v1=${mac(secret, timestampSec, body).toString('hex')}`;
}

/**
 * For receivers of Clawd402 webhooks: true only when `header` (the `X-Clawd402-Signature` value) carries a `v1`
 * HMAC-SHA256 of `${t}.${body}` under `secret`, and `t` lies within `toleranceSec` of `now` (either side), so a
 * captured delivery cannot be replayed later. Pass the raw body bytes exactly as received, before any JSON parsing.
 * Comparison is constant-time. Several `v1=` entries are accepted (any one may match).
 *
 * @param now the receiver's clock: a Date, or a number of **seconds** since the epoch.
 * @example
 * const ok = verifyWebhookSignature(secret, req.headers['x-clawd402-signature'], rawBody, new Date(), 300);
 * if (!ok) return res.writeHead(401).end();
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string | Uint8Array,
  now: Date | number,
  toleranceSec: number = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  if (typeof header !== 'string' || header.length > 1024 || !secret) return false;
  let timestamp: number | null = null;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== null || !/^[0-9]{1,12}$/.test(value)) return false;
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/.test(value)) return false;
      candidates.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === null || candidates.length === 0) return false;
  const nowSec = typeof now === 'number' ? now : Math.floor(now.getTime() / 1000);
  if (!Number.isFinite(nowSec) || Math.abs(nowSec - timestamp) > toleranceSec) return false;
  const expected = mac(secret, timestamp, body);
  let ok = false;
  for (const candidate of candidates) ok = timingSafeEqual(candidate, expected) || ok;
  return ok;
}

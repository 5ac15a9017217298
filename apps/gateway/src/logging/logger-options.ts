import ipaddr from 'ipaddr.js';
import { parseClientAddress } from '../security/ip-mask.ts';
import { pino, type LoggerOptions } from 'pino';

/** LOG_IP_MODE: `masked` (the default) keeps an IPv4 address's /24 and an IPv6 address's /48 in log lines. */
export type LogIpMode = 'masked' | 'full';

/** Field names whose value is a client address, wherever a log line carries one (docs/logging.md). */
export const IP_FIELDS = ['ip', 'clientIp', 'remoteAddress', 'network'] as const;

/** Paths pino redacts from every line: secrets never reach a log, whichever code path logs them. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'body.apiKey',
  '*.apiKey',
  '*.password',
];

/**
 * An address as log lines show it under LOG_IP_MODE=masked: IPv4 keeps its /24 (`203.0.113.7` → `203.0.113.x`), IPv6
 * its /48 (`2001:db8:1:2::9` → `2001:db8:1:x:x:x:x:x`), an IPv4-mapped IPv6 address counts as IPv4. A CIDR range is
 * masked by its address. Anything that does not parse as an address is replaced whole, since it cannot be masked.
 *
 * @example maskIpForLog('::ffff:198.51.100.23') === '198.51.100.x'
 */
export function maskIpForLog(value: string): string {
  const address = parseClientAddress(value);
  if (!address) return '(masked)';
  if (address instanceof ipaddr.IPv4) return `${address.octets.slice(0, 3).join('.')}.x`;
  const parts = address.parts.slice(0, 3).map((p) => p.toString(16));
  return `${parts.join(':')}:x:x:x:x:x`;
}

function maskField(value: unknown): unknown {
  return typeof value === 'string' ? maskIpForLog(value) : value;
}

const SUBJECT_IP = /\bip:([0-9A-Fa-f.:]+(?:\/[0-9]{1,3})?)/g;

/** `ip:<address>` inside a subject (`ip:203.0.113.7`, `client:ip:2001:db8:1:2::/64`), masked. */
function maskSubject(value: unknown): unknown {
  return typeof value === 'string' ? value.replace(SUBJECT_IP, (_all, ip: string) => `ip:${maskIpForLog(ip)}`) : value;
}

interface LoggedRequest {
  method: string;
  url: string;
  headers?: Record<string, unknown>;
  host: string;
  ip: string;
  socket?: { remotePort?: number };
}

/** Fastify's own request serializer (lib/logger-pino.js), with the peer address masked. */
function maskedRequest(req: LoggedRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: req.url,
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: maskIpForLog(req.ip),
    remotePort: req.socket?.remotePort,
  };
}

/**
 * The gateway's pino options: ISO 8601 timestamps, secrets redacted, and — unless `ipMode` is `full` — client
 * addresses masked in fastify's request lines and in every field named in {@link IP_FIELDS}. `extra` (a test's stream,
 * a level) is laid over them; it cannot turn redaction or masking off.
 */
export function loggerOptions(
  level: string,
  ipMode: LogIpMode,
  extra: Record<string, unknown> = {},
): LoggerOptions & Record<string, unknown> {
  const masking =
    ipMode === 'masked'
      ? {
          ...Object.fromEntries(IP_FIELDS.map((field) => [field, maskField])),
          subject: maskSubject,
          req: maskedRequest,
        }
      : {};
  return {
    level,
    ...extra,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { ...(extra.serializers as Record<string, unknown> | undefined), ...masking },
  };
}

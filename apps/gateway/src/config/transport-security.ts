import { isIP } from 'node:net';

/**
 * Whether a database or cache URL protects its traffic in transit (docs/configuration.md, "State: Postgres and
 * Redis"). Production refuses a connection that crosses a network without verified TLS; loopback addresses and Unix
 * sockets never leave the host and are accepted as they are. The security status (`GET /admin/security-status`)
 * reads the same verdicts. Reasons never quote the URL: it may carry a user name or, from a file, a password.
 */
export interface TransportVerdict {
  /** Loopback host or Unix socket: the traffic never leaves the host. */
  local: boolean;
  /** TLS with the server's certificate verified. */
  verifiedTls: boolean;
  /** `local || verifiedTls`. */
  ok: boolean;
  /** One sentence saying why, for the security status. */
  reason: string;
}

/** `localhost`, 127.0.0.0/8 and ::1 (IPv4-mapped included). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

function verdict(local: boolean, verifiedTls: boolean, reason: string): TransportVerdict {
  return { local, verifiedTls, ok: local || verifiedTls, reason };
}

/**
 * A Postgres URL (`postgres://`, `postgresql://`, `socket:`): TLS is verified with `sslmode=verify-full`, or
 * `sslmode=verify-ca` with an `sslrootcert` (the CA is then the operator's own). `require`, `prefer` and `no-verify`
 * encrypt without proving who answers (libpq semantics; node-postgres warns it will adopt them), so they do not count.
 */
export function databaseTransport(raw: string): TransportVerdict {
  let url: URL;
  try {
    // `postgres://user@/db?host=/run/postgresql` (no host: the local default) is no WHATWG URL; read it as localhost.
    url = new URL(raw.replace(/^(postgres(?:ql)?:\/\/[^/@]*@)\//, '$1localhost/'));
  } catch {
    return verdict(false, false, 'the URL cannot be parsed');
  }
  if (url.protocol === 'socket:') return verdict(true, false, 'a Unix socket');
  const host = url.searchParams.get('host') ?? decodeURIComponent(url.hostname);
  if (host.startsWith('/')) return verdict(true, false, 'a Unix socket');
  if (host === '') return verdict(true, false, 'no host: the local default');
  const mode = url.searchParams.get('sslmode');
  const verified =
    url.searchParams.get('uselibpqcompat') !== 'true'
      ? mode === 'verify-full' || (mode === 'verify-ca' && url.searchParams.has('sslrootcert'))
      : mode === 'verify-full';
  if (isLoopbackHost(host)) return verdict(true, verified, 'a loopback host');
  return verified
    ? verdict(false, true, `TLS with certificate verification (sslmode=${mode})`)
    : verdict(
        false,
        false,
        mode ? `sslmode=${mode} does not verify the server's certificate` : 'no sslmode: plaintext or unverified TLS',
      );
}

/** A Redis URL as ioredis reads it: `rediss://` is TLS with verification (ioredis' default); a path is a Unix socket. */
export function redisTransport(raw: string): TransportVerdict {
  if (raw.startsWith('/')) return verdict(true, false, 'a Unix socket');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return verdict(false, false, 'the URL cannot be parsed');
  }
  const tls = url.protocol === 'rediss:';
  if (isLoopbackHost(url.hostname)) return verdict(true, tls, 'a loopback host');
  return tls ? verdict(false, true, 'TLS (rediss://)') : verdict(false, false, `${url.protocol}// is plaintext`);
}

/** The sentences production stops with (config.ts); runbooks and tests match them. */
export const TRANSPORT_REFUSALS = {
  DATABASE_URL:
    'production refuses a database connection without verified TLS: add sslmode=verify-full to the URL (or sslmode=verify-ca with sslrootcert), or connect over loopback or a Unix socket',
  REDIS_URL:
    'production refuses a plaintext Redis connection: use a rediss:// URL (TLS), or connect over loopback or a Unix socket',
} as const;

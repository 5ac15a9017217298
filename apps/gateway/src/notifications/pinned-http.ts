import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedDestination } from './destination-policy.ts';
import { DeliveryError } from './delivery-error.ts';

/** At most this much of a response body is read (and then thrown away: upstream bodies are never stored). */
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface PostResult {
  status: number;
}

/**
 * POST a body to a checked destination, connecting to its pinned address only: the connection's DNS lookup is
 * replaced by one that answers the address `checkDestination` already vetted, while the URL's host name still
 * names the server for TLS (SNI, certificate check) and the Host header. Redirects are never followed: a 3xx is a
 * failed delivery (`redirect_refused`). Any other non-2xx is `http_error` with the status.
 *
 * Node's own http/https clients are used rather than undici: they take a `lookup` per request, and undici's current
 * majors need a newer Node than the gateway supports (>= 20.10).
 */
export function postPinned(
  destination: CheckedDestination,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<PostResult> {
  const { url, hostname, pinned } = destination;
  const pinnedLookup: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all)
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve, reject) => {
    const request = client.request(
      {
        method: 'POST',
        protocol: url.protocol,
        hostname,
        port: url.port || (url.protocol === 'https:' ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: false, // a fresh connection through the pinned lookup; never a pooled socket to some other address
        lookup: pinnedLookup,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (response) => {
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) response.destroy();
        });
        const done = (): void => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve({ status });
          else if (status >= 300 && status < 400)
            reject(
              new DeliveryError(
                'redirect_refused',
                `The endpoint answered HTTP ${status}; redirects are not followed.`,
                { httpStatus: status, retryable: false },
              ),
            );
          else
            reject(
              new DeliveryError('http_error', `The endpoint answered HTTP ${status}.`, {
                httpStatus: status,
                retryable: status >= 500 || status === 408 || status === 429,
              }),
            );
        };
        response.on('end', done);
        response.on('close', done); // destroyed after MAX_RESPONSE_BYTES: the status is all we need
        response.on('error', () => {});
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (error.name === 'AbortError' || error.name === 'TimeoutError' || error.code === 'ABORT_ERR') {
        reject(
          new DeliveryError('timeout', `The endpoint did not answer within ${timeoutMs} ms.`, { retryable: true }),
        );
      } else {
        // The errno code only (ECONNREFUSED, ECONNRESET, CERT_HAS_EXPIRED, …): no upstream text.
        reject(
          new DeliveryError(
            'network_error',
            `The connection failed (${/^[A-Z0-9_]{2,40}$/.test(error.code ?? '') ? error.code : 'error'}).`,
            { retryable: true },
          ),
        );
      }
    });
    request.end(body);
  });
}

import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { Clawd402Error } from '@clawd402/protocol';

/** One resolved address of a destination host. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has. Injectable so tests can simulate DNS answers (and rebinding). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (getaddrinfo, as a connection would use), every address, in the order the system gives. */
export const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

export interface DestinationRules {
  /** Production: https only. */
  production: boolean;
  /** NOTIFY_ALLOW_PRIVATE_ADDRESSES: accept non-public addresses (local testing only; production refuses the setting). */
  allowPrivateAddresses: boolean;
  resolve?: Resolver;
}

/** A destination that passed the rules: the URL and the one address the connection must be made to. */
export interface CheckedDestination {
  url: URL;
  /** The host as the connection names it (no IPv6 brackets): SNI and the Host header use it. */
  hostname: string;
  /** The pinned address: the connection goes here and nowhere else (no second DNS lookup). */
  pinned: ResolvedAddress;
}

// 2000::/3 is the only IPv6 space allocated for global unicast.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/**
 * Why an address is not public, or null when it is. IPv4: anything but ipaddr.js's `unicast` range is refused —
 * loopback, private (10/8, 172.16/12, 192.168/16), link-local (169.254/16, the cloud metadata address included),
 * CGNAT (100.64/10), 0.0.0.0/8, multicast, broadcast, reserved and documentation ranges. IPv6: only global unicast
 * (2000::/3) outside the special ranges; IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96) forms are judged
 * as the IPv4 address they carry and refused anyway (a public server has no reason to be reached that way); NAT64,
 * 6to4 and Teredo, which embed IPv4 addresses, are refused.
 */
export function nonPublicReason(address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // ipaddr.parse accepts the decimal, octal and hex IPv4 spellings (2130706433, 0177.0.0.1, 0x7f000001).
    parsed = ipaddr.parse(address);
  } catch {
    return 'not an IP address';
  }
  if (parsed.kind() === 'ipv4') {
    const range = parsed.range();
    return range === 'unicast' ? null : range;
  }
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return `ipv4Mapped(${nonPublicReason(v6.toIPv4Address().toString()) ?? 'unicast'})`;
  const parts = v6.parts;
  if (parts.slice(0, 6).every((p) => p === 0)) return 'ipv4Compatible'; // ::/96, including :: and ::1
  const range = v6.range();
  if (range !== 'unicast') return range;
  if (!v6.match(GLOBAL_UNICAST_V6)) return 'notGlobalUnicast';
  return null;
}

/** Is the URL's host an IP literal (in any spelling ipaddr.js knows)? Returns it normalised, or null for a name. */
function literalAddress(hostname: string): ResolvedAddress | null {
  if (!ipaddr.isValid(hostname)) return null;
  const parsed = ipaddr.parse(hostname);
  return { address: parsed.toString(), family: parsed.kind() === 'ipv6' ? 6 : 4 };
}

/**
 * Check a notification URL and pin its address. Run when a channel is saved AND again before every delivery (a
 * host that answered with a public address yesterday may answer 127.0.0.1 today).
 *
 * - An absolute http(s) URL without user info; https only in production.
 * - The host name is resolved ONCE; every address it resolves to must be public (see {@link nonPublicReason}), unless
 *   `allowPrivateAddresses`. The caller connects to `pinned` and nowhere else, so a second lookup cannot rebind.
 *
 * Throws `notification_url_invalid` (400), `notification_destination_unresolvable` (422) or
 * `notification_destination_forbidden` (422); `details.reason` says which rule, never more.
 */
export async function checkDestination(raw: string, rules: DestinationRules): Promise<CheckedDestination> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Clawd402Error('notification_url_invalid', 'The URL is not an absolute URL.', {
      details: { reason: 'malformed' },
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Clawd402Error('notification_url_invalid', 'The URL must be https.', { details: { reason: 'scheme' } });
  }
  if (rules.production && url.protocol !== 'https:') {
    throw new Clawd402Error('notification_url_invalid', 'The URL must be https in production.', {
      details: { reason: 'https_required' },
    });
  }
  if (url.username || url.password) {
    throw new Clawd402Error('notification_url_invalid', 'The URL must not carry a user name or password.', {
      details: { reason: 'userinfo' },
    });
  }
  // WHATWG URL parsing already turned 2130706433, 0177.0.0.1 and 0x7f000001 into 127.0.0.1; IPv6 keeps brackets.
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (!hostname)
    throw new Clawd402Error('notification_url_invalid', 'The URL has no host.', { details: { reason: 'malformed' } });

  const literal = literalAddress(hostname);
  let addresses: ResolvedAddress[];
  if (literal) {
    addresses = [literal];
  } else {
    try {
      addresses = await (rules.resolve ?? systemResolver)(hostname);
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) {
      throw new Clawd402Error('notification_destination_unresolvable', undefined, {
        details: { reason: 'no_address' },
      });
    }
  }
  if (!rules.allowPrivateAddresses) {
    for (const a of addresses) {
      const reason = nonPublicReason(a.address);
      if (reason !== null) {
        // The reason names the range class only (e.g. "loopback"), never the resolved address itself.
        throw new Clawd402Error('notification_destination_forbidden', undefined, { details: { reason } });
      }
    }
  }
  return { url, hostname, pinned: addresses[0]! };
}

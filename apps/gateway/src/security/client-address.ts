import ipaddr from 'ipaddr.js';

/**
 * IPv6 clients are counted per /64: one subscriber (a home, a VM, a cloud instance) is routinely handed a whole /64,
 * so counting single addresses would give one client 2^64 buckets.
 */
export const IPV6_PREFIX_BITS = 64;

/** Longest unparsable address text kept in a key (only a misbehaving trusted proxy could produce one). */
const MAX_RAW_CHARS = 64;

/**
 * The identity a client address is rate-limited under. `ip` is `request.ip`: the socket peer, or the client named in
 * X-Forwarded-For when the peer is one of TRUSTED_PROXIES (Fastify's `trustProxy` decides; nothing here reads
 * headers). IPv4 is itself (`203.0.113.7`); an IPv4-mapped IPv6 address is its IPv4 (`::ffff:203.0.113.7` →
 * `203.0.113.7`); any other IPv6 address is its /64 (`2001:db8:1:2:aa::1` → `2001:db8:1:2::/64`), zone index dropped.
 *
 * @example clientKey('::ffff:10.0.0.1') === '10.0.0.1'
 */
export function clientKey(ip: string): string {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(ip);
  } catch {
    return `raw:${ip.slice(0, MAX_RAW_CHARS).toLowerCase()}`;
  }
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice();
  for (let i = IPV6_PREFIX_BITS / 16; i < 8; i += 1) parts[i] = 0;
  return `${new ipaddr.IPv6(parts).toString()}/${IPV6_PREFIX_BITS}`;
}

/**
 * The network an address belongs to for incident detection (docs/incidents.md): IPv4 per /24
 * (`203.0.113.7` → `203.0.113.0/24`), IPv6 per /64 as `clientKey` counts it, an IPv4-mapped address as its IPv4.
 */
export function clientNetwork(ip: string): string {
  const key = clientKey(ip);
  if (key.includes('/') || key.startsWith('raw:')) return key;
  const octets = key.split('.');
  return `${octets.slice(0, 3).join('.')}.0/24`;
}

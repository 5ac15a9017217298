import ipaddr from 'ipaddr.js';

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Parse a comma-separated list of addresses and CIDR ranges (IPv4 and IPv6). A bare address is a /32 or /128.
 * IPv4-mapped IPv6 forms (::ffff:10.0.0.1) are normalised to IPv4.
 */
export function parseCidrList(text: string): Cidr[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      if (entry.includes('/')) {
        const [address, bits] = ipaddr.parseCIDR(entry);
        return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96
          ? ([(address as ipaddr.IPv6).toIPv4Address(), bits - 96] as Cidr)
          : ([address, bits] as Cidr);
      }
      const address = ipaddr.process(entry);
      return [address, address.kind() === 'ipv4' ? 32 : 128] as Cidr;
    });
}

/** True when `ip` (as Fastify resolved it, possibly IPv4-mapped) falls in one of the ranges. */
export function isAllowedAdminIp(ip: string, ranges: readonly Cidr[]): boolean {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(ip);
  } catch {
    return false;
  }
  return ranges.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

import ipaddr from 'ipaddr.js';

/**
 * A client address in any spelling ipaddr.js reads (a CIDR suffix or an IPv6 zone is ignored), an IPv4-mapped IPv6
 * address as IPv4; null when it is not an address. The one parser behind every masking (reports and log lines).
 */
export function parseClientAddress(value: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const text = value.split('/')[0]!.replace(/%.*$/, '');
  return ipaddr.isValid(text) ? ipaddr.process(text) : null;
}

/** Prefix lengths an address is cut to: an IPv4 /24, an IPv6 /48 (a site). */
export const MASK_V4 = 24;
export const MASK_V6 = 48;

/**
 * An IP address cut to its network, for messages that leave the gateway (the weekly security report):
 * `203.0.113.7` → `203.0.113.0/24`, `2001:db8:1:2::5` → `2001:db8:1::/48`; an IPv4-mapped IPv6 address is masked as
 * IPv4. Anything that is not an address (`erased`, garbage) → `unknown`. Parsed with ipaddr.js, which also reads the
 * odd IPv4 spellings, so no spelling slips through unmasked.
 */
export function maskIp(address: string): string {
  const parsed = parseClientAddress(address);
  if (!parsed) return 'unknown';
  const bits = parsed.kind() === 'ipv4' ? MASK_V4 : MASK_V6;
  const cidr = `${parsed.toString()}/${bits}`;
  const base =
    parsed.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  return `${base.toString()}/${bits}`;
}

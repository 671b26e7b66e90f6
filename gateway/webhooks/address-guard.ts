import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where Junction may POST a service's events: the guard against server-side request forgery.
 *
 * A URL a caller gives is a request Junction makes from inside the operator's network. Without a
 * guard, a service could register `http://169.254.169.254/latest/meta-data/` (a cloud's instance
 * credentials), `http://10.0.0.5:6379/` (Redis) or `http://localhost:4000/` and have Junction carry
 * its events, and read the outcome in the attempts it is shown. So:
 *
 * - only `http:` and `https:`, without user:password (a secret in a URL ends up in every list that
 *   shows it), at most MAX_URL_LENGTH characters; https only in production, unless the operator
 *   allows the host;
 * - the host is resolved and every address it resolves to is checked: loopback, private
 *   (RFC 1918), link-local (169.254/16, cloud metadata), shared (CGNAT 100.64/10), "this network"
 *   (0/8), multicast, reserved and broadcast, documentation and benchmarking ranges, and their IPv6
 *   counterparts (::1, ::, fc00::/7, fe80::/10, fec0::/10, ff00::/8), and IPv6 forms that carry an
 *   IPv4 address (mapped ::ffff:0:0/96, translated ::ffff:0:0:0/96, compatible ::/96, NAT64
 *   64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32) are refused, unless the operator's allow-list
 *   names the host (any port) or the host and port;
 * - the caller connects to the very address that was checked (`Destination.address`, given to the
 *   connection's `lookup`): a name that resolves to a public address for the check and to
 *   127.0.0.1 a moment later (DNS rebinding) never reaches 127.0.0.1;
 * - redirects are the caller's to refuse (outbound.ts does not follow them): a public endpoint
 *   answering 307 to http://127.0.0.1 would otherwise walk around every check here.
 *
 * The allow-list names hosts, never addresses: `10.0.0.5` allows a URL whose host is 10.0.0.5,
 * not every name that happens to resolve there.
 */

/** Longest URL taken. */
export const MAX_URL_LENGTH = 2_048;

export type UrlRefusal = 'malformed' | 'too_long' | 'scheme' | 'credentials' | 'https_required' | 'unresolvable' | 'private_address';

export type Destination =
  | {
    ok: true;
    url: URL;
    /** The host as the connection names it (no brackets for IPv6), for TLS's server name and Host. */
    hostname: string;
    /** The address checked: the connection goes here and nowhere else. */
    address: string;
    family: 4 | 6;
    /** The operator's allow-list named the host: no address was refused. */
    allowed: boolean;
  }
  | { ok: false; reason: UrlRefusal; message: string };

/** A host's addresses (every one), as `dns.lookup(host, { all: true })` gives them. */
export type Resolver = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

export interface AddressGuardOptions {
  /** `host` or `host:port` entries (DELIVERY_ALLOWED_HOSTS); IPv6 in brackets, `[::1]:8080`. Default none. */
  allowedHosts?: readonly string[];
  /** Refuse http: unless the host is allowed (production). Default true. */
  requireHttps?: boolean;
  /** Default: the system's resolver (`dns.lookup`, which also reads /etc/hosts). */
  resolve?: Resolver;
  /** Default MAX_URL_LENGTH. */
  maxUrlLength?: number;
}

export interface AddressGuard {
  /** Whether `url` may be posted to now, and to which address. Never throws. */
  check(url: string): Promise<Destination>;
}

const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/** Ranges no event is posted to unless the host is allowed, each with the name a refusal gives it. */
const IPV4_RANGES: readonly [string, number, string][] = [
  ['0.0.0.0', 8, '"this network" (0.0.0.0/8)'],
  ['10.0.0.0', 8, 'private (10.0.0.0/8)'],
  ['100.64.0.0', 10, 'shared address space (100.64.0.0/10)'],
  ['127.0.0.0', 8, 'loopback (127.0.0.0/8)'],
  ['169.254.0.0', 16, 'link-local (169.254.0.0/16, cloud metadata)'],
  ['172.16.0.0', 12, 'private (172.16.0.0/12)'],
  ['192.0.0.0', 24, 'IETF protocol assignments (192.0.0.0/24)'],
  ['192.0.2.0', 24, 'documentation (192.0.2.0/24)'],
  ['192.168.0.0', 16, 'private (192.168.0.0/16)'],
  ['198.18.0.0', 15, 'benchmarking (198.18.0.0/15)'],
  ['198.51.100.0', 24, 'documentation (198.51.100.0/24)'],
  ['203.0.113.0', 24, 'documentation (203.0.113.0/24)'],
  ['224.0.0.0', 4, 'multicast (224.0.0.0/4)'],
  ['240.0.0.0', 4, 'reserved and broadcast (240.0.0.0/4)'],
];
const IPV6_RANGES: readonly [string, number, string][] = [
  ['::', 128, 'unspecified (::)'],
  ['::1', 128, 'loopback (::1)'],
  ['64:ff9b:1::', 48, 'local NAT64 (64:ff9b:1::/48)'],
  ['100::', 64, 'discard (100::/64)'],
  ['2001:db8::', 32, 'documentation (2001:db8::/32)'],
  ['fc00::', 7, 'unique local (fc00::/7)'],
  ['fe80::', 10, 'link-local (fe80::/10)'],
  ['fec0::', 10, 'site-local (fec0::/10)'],
  ['ff00::', 8, 'multicast (ff00::/8)'],
];

function rangesOf(ranges: readonly [string, number, string][], family: 'ipv4' | 'ipv6') {
  return ranges.map(([network, prefix, name]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, family);
    return { list, name };
  });
}
const V4 = rangesOf(IPV4_RANGES, 'ipv4');
const V6 = rangesOf(IPV6_RANGES, 'ipv6');

/**
 * The refused range an address lies in (its name, for the refusal's message), or undefined for an
 * address Junction may post to. IPv6 forms that carry an IPv4 address are judged by that address;
 * Teredo's is obfuscated and routed through a relay, so Teredo is refused outright.
 */
export function refusedRangeOf(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return V4.find(({ list }) => list.check(address, 'ipv4'))?.name;
  if (family !== 6) return 'not an IP address';
  const hextets = expandIpv6(address);
  if (!hextets) return 'not an IP address';
  const embedded = embeddedIpv4(hextets);
  if (embedded !== undefined) {
    const inner = refusedRangeOf(embedded);
    return inner === undefined ? undefined : `${inner}, written as IPv6`;
  }
  if (hextets[0] === 0x2001 && hextets[1] === 0) return 'Teredo (2001::/32)';
  return V6.find(({ list }) => list.check(address, 'ipv6'))?.name;
}

/** The IPv4 address an IPv6 address carries, where it is one of the forms that route to it. */
function embeddedIpv4(h: readonly number[]): string | undefined {
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const zeros = (from: number, to: number) => h.slice(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible; :: and ::1 are judged as IPv6 below).
  if (zeros(0, 5) && h[5] === 0xffff) return v4(h[6]!, h[7]!);
  // ::ffff:0:a.b.c.d (IPv4-translated, SIIT): a translator on the path delivers it to a.b.c.d.
  if (zeros(0, 4) && h[4] === 0xffff && h[5] === 0) return v4(h[6]!, h[7]!);
  if (zeros(0, 6) && (h[6] !== 0 || h[7]! > 1)) return v4(h[6]!, h[7]!);
  // NAT64's well-known prefix, 64:ff9b::a.b.c.d.
  if (h[0] === 0x64 && h[1] === 0xff9b && zeros(2, 6)) return v4(h[6]!, h[7]!);
  // 6to4, 2002:aabb:ccdd::/48.
  if (h[0] === 0x2002) return v4(h[1]!, h[2]!);
  return undefined;
}

/** Eight 16-bit groups of an IPv6 address (a zone id dropped, a trailing dotted quad read). */
function expandIpv6(address: string): number[] | undefined {
  let text = address.split('%')[0]!.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right].map((g) => Number.parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * An allow-list entry in the form it is matched in (`host` or `host:port`), or undefined when it
 * is neither. Read as a URL's host is, so that `[0:0::1]` and `[::1]`, `Example.COM.` and
 * `example.com`, or an internationalised name and its punycode, are one entry.
 */
export function normaliseAllowedHost(entry: string): string | undefined {
  const trimmed = entry.trim();
  if (!/^[^/?#@\s\\]+$/.test(trimmed)) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${trimmed}`);
  } catch {
    return undefined;
  }
  const host = url.hostname.replace(/\.$/, '');
  if (host === '') return undefined;
  // The URL drops a default port (`:80`); the entry's own text says whether it named one.
  const port = /\]?:(\d{1,5})$/.exec(trimmed)?.[1];
  if (port === undefined) return host;
  return Number(port) >= 1 && Number(port) <= 65_535 ? `${host}:${Number(port)}` : undefined;
}

/** Checks destinations against the operator's rules; see the module's comment. */
export function createAddressGuard(options: AddressGuardOptions = {}): AddressGuard {
  const { requireHttps = true, resolve = systemResolver, maxUrlLength = MAX_URL_LENGTH } = options;
  const allowed = new Set((options.allowedHosts ?? []).map((entry) => {
    const normal = normaliseAllowedHost(entry);
    if (normal === undefined) throw new TypeError(`allowedHosts: "${entry}" is not a host or host:port`);
    return normal;
  }));
  const refuse = (reason: UrlRefusal, message: string): Destination => ({ ok: false, reason, message });
  return {
    async check(text) {
      if (text.length > maxUrlLength) return refuse('too_long', `the URL is over ${maxUrlLength} characters`);
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return refuse('malformed', 'it is not an absolute URL');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return refuse('scheme', `only http and https are posted to, not ${url.protocol.slice(0, -1)}`);
      if (url.username !== '' || url.password !== '') return refuse('credentials', 'a URL may not carry a user name or password');
      const host = url.hostname.replace(/\.$/, '');
      const port = url.port || DEFAULT_PORTS[url.protocol]!;
      const isAllowed = allowed.has(host) || allowed.has(`${host}:${port}`);
      if (requireHttps && url.protocol === 'http:' && !isAllowed) return refuse('https_required', 'production posts only to https URLs');
      // As the connection names it: no brackets, and a trailing dot kept (it is part of the name asked for).
      const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      let addresses: readonly { address: string; family: number }[];
      if (isIP(hostname)) addresses = [{ address: hostname, family: isIP(hostname) }];
      else {
        try {
          addresses = await resolve(hostname);
        } catch {
          addresses = [];
        }
        if (addresses.length === 0) return refuse('unresolvable', `${hostname} does not resolve`);
      }
      if (!isAllowed) {
        for (const { address } of addresses) {
          const range = refusedRangeOf(address);
          if (range !== undefined) {
            // The address itself is not told: a caller must not map the operator's network with it.
            const via = address === hostname ? '' : ` (${hostname} resolves to one)`;
            return refuse('private_address', `${range} addresses are not posted to unless DELIVERY_ALLOWED_HOSTS names the host${via}`);
          }
        }
      }
      const first = addresses[0]!;
      return { ok: true, url, hostname, address: first.address, family: first.family === 6 ? 6 : 4, allowed: isAllowed };
    },
  };
}

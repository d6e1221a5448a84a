import { OptionsValidator } from '../errors/validate.js';
import { copied } from '../metrics/names.js';
import { HTTP_DEFAULTS } from './options.js';

/** Options of {@link clientIpKey}. */
export interface ClientIpKeyOptions {
  /** Leading bits of an IPv6 address that make the key (1–128). @default 56 */
  readonly ipv6PrefixLength?: number;
}

const IPV4 =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEXTET = /^[0-9a-f]{1,4}$/;
const PORT = /^\d{1,5}$/;

/** The eight 16-bit groups of an IPv6 address (lower-case, no zone, no brackets), or undefined. */
function hextets(text: string): number[] | undefined {
  let tail: number[] = [];
  let body = text;
  // An IPv4 tail (`::ffff:1.2.3.4`) is the last two groups.
  const lastColon = body.lastIndexOf(':');
  const maybeV4 = body.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    const m = IPV4.exec(maybeV4);
    if (m === null) return undefined;
    const [a, b, c, d] = m.slice(1).map(Number) as [number, number, number, number];
    tail = [(a << 8) | b, (c << 8) | d];
    body = body.slice(0, lastColon + 1);
    if (body.endsWith(':') && !body.endsWith('::')) body = body.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (![...head, ...rest].every((h) => HEXTET.test(h))) return undefined;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  const zeros = Array(8 - given).fill(0) as number[];
  return [...head.map((h) => Number.parseInt(h, 16)), ...zeros, ...rest.map((h) => Number.parseInt(h, 16)), ...tail];
}

/** RFC 5952 text: lower-case, no leading zeros, the longest run of two or more zero groups as `::`. */
function format(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * The rate-limit key for a client's IP: IPv4 as it is, IPv6 forms of an IPv4 client folded to
 * it, other IPv6 masked to `ipv6PrefixLength` bits; ports, brackets, zones dropped (docs/http.md).
 *
 * @example
 * clientIpKey('2001:db8:abcd:12ff::1'); // '2001:db8:abcd:1200::/56'
 */
export function clientIpKey(ip: string, options?: ClientIpKeyOptions): string {
  if (typeof ip !== 'string') throw new TypeError(`clientIpKey: ip: expected a string, received ${typeof ip}`);
  let bits: number = HTTP_DEFAULTS.ipv6PrefixLength;
  if (options !== undefined) {
    const v = new OptionsValidator('clientIpKey');
    bits = v.known(options, { ipv6PrefixLength: true }).ipv6PrefixLength ?? bits;
    v.integer('ipv6PrefixLength', bits, { min: 1, max: 128 }).done();
  }
  // IPv4 addresses, as anything else without a colon, are keys as they are.
  const colon = ip.indexOf(':');
  if (colon < 0) return ip;
  // One colon: an IPv4 address with the port some proxies add (`203.0.113.7:51234`).
  if (colon === ip.lastIndexOf(':')) {
    const address = ip.slice(0, colon);
    return IPV4.test(address) && PORT.test(ip.slice(colon + 1)) ? address : ip;
  }
  // How a dual-stack socket (a server listening on `::`) reports every IPv4 client.
  if (colon === 0 && ip.startsWith('::ffff:') && ip.indexOf(':', 7) < 0 && IPV4.test(ip.slice(7))) return ip.slice(7);
  if (bits !== HTTP_DEFAULTS.ipv6PrefixLength || ip.length > RECENT_LENGTH) return ipv6Key(ip, bits);
  let key = recent.get(ip);
  if (key === undefined) {
    const own = copied(ip); // kept: not a slice of the header it may have been cut from
    key = ipv6Key(own, bits);
    if (recent.size >= RECENT_MAX) recent.clear();
    recent.set(own, key);
  }
  return key;
}

/**
 * Keys of the default prefix length, by the address they were made from: a client sends many
 * requests, and parsing an IPv6 address costs ~1.5 µs. At most {@link RECENT_MAX} entries of
 * at most {@link RECENT_LENGTH} characters (then it starts afresh), so an attacker rotating
 * addresses, or sending long ones, costs ~0.5 MB at most, and misses.
 */
const recent = new Map<string, string>();
const RECENT_MAX = 4096;
const RECENT_LENGTH = 64;

function ipv6Key(ip: string, bits: number): string {
  let text = ip.toLowerCase();
  if (text.startsWith('[')) {
    // Bracketed, with or without a port (`[2001:db8::1]:443`, RFC 7239's node form).
    const close = text.indexOf(']');
    const rest = text.slice(close + 1);
    if (close < 0 || !(rest === '' || (rest.startsWith(':') && PORT.test(rest.slice(1))))) return ip;
    text = text.slice(1, close);
  }
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const groups = hextets(text);
  if (groups === undefined) return ip;
  // An IPv4 client, keyed by its IPv4 address, as it is one client there: a /56 would key all
  // of them as one (or, for 6to4, one IPv4 address as 256). IPv4-mapped; SIIT's IPv4-translated
  // (::ffff:0:a.b.c.d); the deprecated IPv4-compatible (::a.b.c.d, RFC 4291 §2.5.5.1; not :: or
  // ::1); NAT64's (RFC 6052, and RFC 8215's local-use /48 as a /96); a 6to4 site (2002:AABB:CCDD::/48,
  // RFC 3056: its router's address); a Teredo client (2001:0::/32, RFC 4380: its NAT's, inverted).
  const [a, b, c, d, e, f, g, h] = groups as [number, number, number, number, number, number, number, number];
  const v4 =
    (a + b + c + d === 0 && ((e + f === 0xffff && e * f === 0) || (e + f === 0 && g > 0xff))) ||
    (a === 0x64 && b === 0xff9b && (c === 1 || c + d + e + f === 0))
      ? [g, h]
      : a === 0x2002
        ? [b, c]
        : a === 0x2001 && b === 0
          ? [g ^ 0xffff, h ^ 0xffff]
          : undefined;
  if (v4 !== undefined) return `${v4[0]! >> 8}.${v4[0]! & 0xff}.${v4[1]! >> 8}.${v4[1]! & 0xff}`;
  if (bits === 128) return format(groups);
  const masked = groups.map((g, i) => {
    const keep = Math.min(16, Math.max(0, bits - i * 16));
    return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${format(masked)}/${bits}`;
}

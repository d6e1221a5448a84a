import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors/errors.js';
import { clientIpKey } from './client-ip.js';
import { HTTP_DEFAULTS } from './options.js';

/** Whether groups 2 to 4 are zero, as in the IPv6 forms of an IPv4 address. */
const h234 = (h: number[]) => h[2] === 0 && h[3] === 0 && h[4] === 0;
const hextets = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 });
const full = (h: readonly number[]) => h.map((x) => x.toString(16)).join(':');
/** The first `bits` bits of an address, as a bigint. */
const prefix = (h: readonly number[], bits: number) =>
  h.reduce((acc, x) => (acc << 16n) | BigInt(x), 0n) >> BigInt(128 - bits);

describe('clientIpKey', () => {
  it('keeps IPv4 addresses and folds IPv4-mapped IPv6 to them', () => {
    expect(HTTP_DEFAULTS.ipv6PrefixLength).toBe(56);
    expect(clientIpKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientIpKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientIpKey('::FFFF:cb00:7107')).toBe('203.0.113.7');
    expect(clientIpKey('0:0:0:0:0:ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('folds an IPv4 client translated by a NAT64 / SIIT gateway (64:ff9b::/96) to its IPv4 address, not one /56 for all', () => {
    expect(clientIpKey('64:ff9b::203.0.113.7')).toBe('203.0.113.7');
    expect(clientIpKey('64:FF9B::CB00:7107')).toBe('203.0.113.7');
    expect(clientIpKey('64:ff9b::198.51.100.9')).toBe('198.51.100.9');
    // The local-use translation prefix (RFC 8215, 64:ff9b:1::/48, deployed as a /96 in it) and
    // SIIT's IPv4-translated form (::ffff:0:a.b.c.d) carry IPv4 clients too.
    expect(clientIpKey('64:ff9b:1::cb00:7107')).toBe('203.0.113.7');
    expect(clientIpKey('64:ff9b:1::cb00:7108')).toBe('203.0.113.8');
    expect(clientIpKey('64:ff9b:1:ab:0:12:cb00:7107')).toBe('203.0.113.7');
    expect(clientIpKey('::ffff:0:203.0.113.7')).toBe('203.0.113.7');
    expect(clientIpKey('64:ff9b:2::cb00:7107')).toBe('64:ff9b:2::/56');
  });

  it('folds the deprecated IPv4-compatible form (::a.b.c.d), 6to4 and Teredo to the IPv4 address they carry, not one key for all', () => {
    // RFC 4291 §2.5.5.1: the IPv4 address in the last 32 bits; `::` and `::1` are none.
    expect(clientIpKey('::203.0.113.7')).toBe('203.0.113.7');
    expect(clientIpKey('::198.51.100.9')).toBe('198.51.100.9');
    expect(clientIpKey('::cb00:7107')).toBe('203.0.113.7');
    expect(clientIpKey('::1')).toBe('::/56');
    expect(clientIpKey('::')).toBe('::/56');
    expect(clientIpKey('::0.0.0.2')).toBe('::/56');
    // RFC 3056: a 6to4 site's /48 is its router's IPv4 address; each of its 256 /56s is not another client.
    expect(clientIpKey('2002:cb00:7107:1::1')).toBe('203.0.113.7');
    expect(clientIpKey('2002:cb00:7107:ff00::1')).toBe('203.0.113.7');
    expect(clientIpKey('2002:c633:6409::5')).toBe('198.51.100.9');
    // RFC 4380: a Teredo client's public (NAT) IPv4 address, bits inverted, in the last 32 bits;
    // a /56 keyed every client of one Teredo server as one.
    expect(clientIpKey('2001:0:4136:e378:8000:63bf:34ff:8ef8')).toBe('203.0.113.7');
    expect(clientIpKey('2001:0:4136:e378:8000:63bf:39cc:9bf6')).toBe('198.51.100.9');
    expect(clientIpKey('2001:db8::1')).toBe('2001:db8::/56');
  });

  it('masks other IPv6 addresses to a /56, so one customer cannot rotate through its addresses', () => {
    expect(clientIpKey('2001:db8:abcd:12ff:1:2:3:4')).toBe('2001:db8:abcd:1200::/56');
    expect(clientIpKey('2001:DB8:ABCD:1234::1')).toBe('2001:db8:abcd:1200::/56');
    expect(clientIpKey('[2001:db8::1]')).toBe('2001:db8::/56');
    expect(clientIpKey('fe80::1%eth0')).toBe('fe80::/56');
    expect(clientIpKey('::1')).toBe('::/56');
    expect(clientIpKey('2001:db8::1', { ipv6PrefixLength: 64 })).toBe('2001:db8::/64');
    expect(clientIpKey('2001:db8::1', { ipv6PrefixLength: 128 })).toBe('2001:db8::1');
  });

  it('keys the same after more distinct addresses than it remembers, and for inputs longer than it remembers', () => {
    const key = (i: number) => clientIpKey(`2001:db8:${i.toString(16)}:ff00::${(i % 7) + 1}`);
    const first = Array.from({ length: 5000 }, (_, i) => key(i));
    expect(first[0]).toBe('2001:db8:0:ff00::/56');
    expect(first[4999]).toBe('2001:db8:1387:ff00::/56');
    expect(Array.from({ length: 5000 }, (_, i) => key(i))).toEqual(first);
    const long = `[2001:db8:abcd:1234:5678:9abc:def0:1234%${'z'.repeat(80)}]:443`;
    expect(clientIpKey(long)).toBe('2001:db8:abcd:1200::/56');
    expect(clientIpKey(long)).toBe('2001:db8:abcd:1200::/56');
  });

  it('drops the port a proxy may add (Azure, IIS ARR, RFC 7239 nodes), so a client does not get a fresh key per connection', () => {
    expect(clientIpKey('203.0.113.7:51234')).toBe('203.0.113.7');
    expect(clientIpKey('[2001:db8:abcd:12ff::1]:443')).toBe('2001:db8:abcd:1200::/56');
    expect(clientIpKey('[::ffff:203.0.113.7]:8080')).toBe('203.0.113.7');
    expect(clientIpKey('[fe80::1%eth0]:80')).toBe('fe80::/56');
    // Not an address with a port: left as they are.
    for (const text of ['203.0.113.7:', '203.0.113.7:port', '203.0.113.7:123456', '[2001:db8::1]:', '[2001:db8::1]x']) {
      expect(clientIpKey(text)).toBe(text);
    }
  });

  it('gives anything that is not an IP address back unchanged', () => {
    for (const text of [
      'unknown',
      '',
      '1.2.3',
      '1.2.3.256',
      '01.2.3.4',
      '1::2::3',
      '2001:db8::g',
      '1:2:3:4:5:6:7:8:9',
    ]) {
      expect(clientIpKey(text)).toBe(text);
    }
  });

  it('maps two addresses to one key exactly when they share the prefix (any prefix length, any spelling)', () => {
    fc.assert(
      fc.property(hextets, hextets, fc.integer({ min: 1, max: 128 }), fc.boolean(), (a, b, bits, upper) => {
        const v4 = (h: number[]) =>
          (h[0] === 0 && h[1] === 0 && h[5] === 0xffff) || (h[0] === 0x64 && h[1] === 0xff9b && h[5] === 0);
        // IPv4-compatible (::a.b.c.d), 6to4 and Teredo carry an IPv4 client too.
        const carries = (h: number[]) =>
          h[0] === 0x2002 || (h[0] === 0x2001 && h[1] === 0) || (h.slice(0, 6).every((x) => x === 0) && h[6]! > 0xff);
        fc.pre(!(v4(a) && h234(a)) && !(v4(b) && h234(b)) && !carries(a) && !carries(b)); // not an IPv4 client in IPv6 form
        const spell = (h: number[]) => (upper ? full(h).toUpperCase() : full(h));
        const same = prefix(a, bits) === prefix(b, bits);
        expect(
          clientIpKey(spell(a), { ipv6PrefixLength: bits }) === clientIpKey(full(b), { ipv6PrefixLength: bits }),
        ).toBe(same);
      }),
    );
  });

  it('is idempotent: a key’s address part keys to itself', () => {
    fc.assert(
      fc.property(hextets, fc.integer({ min: 1, max: 128 }), (h, bits) => {
        const key = clientIpKey(full(h), { ipv6PrefixLength: bits });
        const address = key.split('/')[0]!;
        expect(clientIpKey(address, { ipv6PrefixLength: bits })).toBe(key);
      }),
    );
  });

  it('folds every IPv4 address however it is written', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
        const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        expect(clientIpKey(ip)).toBe(ip);
        expect(clientIpKey(`::ffff:${ip}`)).toBe(ip);
        expect(clientIpKey(`::ffff:${hex}`)).toBe(ip);
      }),
    );
  });

  it('rejects a prefix length that is not an integer from 1 to 128 with a ConfigurationError, and an ip that is not a string with a TypeError', () => {
    expect(() => clientIpKey('::1', { ipv6PrefixLength: 0 })).toThrow(ConfigurationError);
    expect(() => clientIpKey('::1', { ipv6PrefixLength: 56.5 })).toThrow(/ipv6PrefixLength/);
    expect(() => clientIpKey(undefined as never)).toThrow(/ip: expected a string/);
  });
});

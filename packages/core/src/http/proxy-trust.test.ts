import { describe, expect, it } from 'vitest';
import { proxyTrustWarning } from './proxy-trust.js';

describe('proxyTrustWarning', () => {
  it('says nothing when no forwarding header arrives, or when a bounded number of proxies is trusted', () => {
    expect(proxyTrustWarning({ headers: {}, trust: 'none' })).toBeUndefined();
    expect(proxyTrustWarning({ headers: {}, trust: 'all' })).toBeUndefined();
    expect(proxyTrustWarning({ headers: { 'x-forwarded-for': '1.2.3.4' }, trust: 'hops' })).toBeUndefined();
  });

  it('warns of lock-out when forwarded requests reach an app that trusts no proxy, with the fix', () => {
    const express = proxyTrustWarning({
      headers: { 'x-forwarded-for': '1.2.3.4' },
      trust: 'none',
      framework: 'express',
    });
    expect(express).toMatch(/X-Forwarded-For/);
    expect(express).toMatch(/trusts no proxy/);
    expect(express).toMatch(/one limit for every client/);
    expect(express).toContain("app.set('trust proxy', 1)");
    const koa = proxyTrustWarning({ headers: { forwarded: 'for=1.2.3.4' }, trust: 'none', framework: 'koa' });
    expect(koa).toMatch(/Forwarded/);
    expect(koa).toContain('app.proxy = true');
    expect(koa).toContain('app.maxIpsCount = 1');
  });

  it('warns of spoofing when every proxy is trusted: the client writes the leftmost address itself', () => {
    const text = proxyTrustWarning({
      headers: { 'x-forwarded-for': '6.6.6.6, 10.0.0.1' },
      trust: 'all',
      framework: 'express',
    });
    expect(text).toMatch(/trusts every proxy/);
    expect(text).toMatch(/spoof/);
    expect(text).toContain("app.set('trust proxy', 1)");
    expect(proxyTrustWarning({ headers: { 'x-forwarded-for': 'x' }, trust: 'all' })).toMatch(
      /exactly the proxies you run/,
    );
  });

  it('warns that Express and Koa read no Forwarded field: with it alone every client has the proxy address', () => {
    const forwarded = { forwarded: 'for=198.51.100.1' };
    for (const trust of ['none', 'all', 'hops'] as const) {
      const text = proxyTrustWarning({ headers: forwarded, trust, framework: 'express' });
      expect(text).toMatch(/Forwarded but no X-Forwarded-For, the only field Express reads/);
      expect(text).toMatch(/one limit for every client/);
      expect(text).not.toMatch(/spoof/);
    }
    for (const trust of ['none', 'all', 'hops'] as const) {
      expect(proxyTrustWarning({ headers: forwarded, trust, framework: 'koa' })).toMatch(
        /Forwarded but no X-Forwarded-For, the only field Koa reads/,
      );
    }
    // Trusting hops already, the fix is the field alone.
    expect(proxyTrustWarning({ headers: forwarded, trust: 'hops', framework: 'koa' })).toMatch(
      /Fix: have the proxy send X-Forwarded-For\.$/,
    );
    // Koa reading another proxyIpHeader: warned of when that one is missing, not when it came.
    const realIp = { headers: forwarded, trust: 'hops', framework: 'koa', field: 'X-Real-IP' } as const;
    expect(proxyTrustWarning(realIp)).toMatch(/Forwarded but no X-Real-IP, the only field Koa reads/);
    expect(proxyTrustWarning({ ...realIp, headers: { ...forwarded, 'x-real-ip': '1.2.3.4' } })).toBeUndefined();
    // That field sent while no proxy is trusted: every client has the proxy's address.
    expect(
      proxyTrustWarning({ headers: { 'x-real-ip': '1.2.3.4' }, trust: 'none', framework: 'koa', field: 'X-Real-IP' }),
    ).toMatch(/arrive with X-Real-IP but the app trusts no proxy/);
    // A framework of its own may read Forwarded.
    expect(proxyTrustWarning({ headers: forwarded, trust: 'all' })).toMatch(/leftmost Forwarded entry/);
    expect(
      proxyTrustWarning({
        headers: { ...forwarded, 'x-forwarded-for': '1.2.3.4' },
        trust: 'hops',
        framework: 'express',
      }),
    ).toBeUndefined();
  });

  it('rejects a trust setting it does not know with a TypeError', () => {
    expect(() => proxyTrustWarning({ headers: {}, trust: true as never })).toThrow(
      /trust: expected 'none', 'all' or 'hops'/,
    );
  });
});

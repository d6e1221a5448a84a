import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fixedWindow } from '@resilience/core';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { rateLimit } from './index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function warnings(options: ConstructorParameters<typeof Koa>[0], headers: Record<string, string>) {
  const warned: string[] = [];
  const app = new Koa(options);
  const logger = { info() {}, error() {}, warn: (_: unknown, message: string) => warned.push(message) };
  app.use(rateLimit({ algorithm: fixedWindow({ limit: 10, windowMs: 60_000 }), logger }));
  app.use((ctx) => {
    ctx.body = ctx.ip;
  });
  const server = http.createServer(app.callback());
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { headers });
  return { ip: await response.text(), warned };
}

describe('Koa rateLimit: the proxy-trust warning follows app.proxyIpHeader', () => {
  it('no X-Forwarded-For warning when the app reads the address from another header (X-Real-IP)', async () => {
    const { ip, warned } = await warnings(
      { proxy: true, proxyIpHeader: 'X-Real-IP' },
      { 'x-real-ip': '203.0.113.7', 'x-forwarded-for': '198.51.100.1, 203.0.113.7' },
    );
    expect([ip, warned]).toEqual(['203.0.113.7', []]);
  });

  it('warns of Forwarded alone when the header Koa reads (X-Real-IP) is missing: every client has the proxy address', async () => {
    const options = { proxy: true, maxIpsCount: 1, proxyIpHeader: 'X-Real-IP' };
    const alone = await warnings(options, { forwarded: 'for=203.0.113.7' });
    expect(alone.ip).toBe('127.0.0.1');
    expect(alone.warned).toEqual([expect.stringMatching(/Forwarded but no X-Real-IP, the only field Koa reads/)]);
    const both = await warnings(options, { forwarded: 'for=203.0.113.7', 'x-real-ip': '203.0.113.7' });
    expect([both.ip, both.warned]).toEqual(['203.0.113.7', []]);
  });

  it('warns when the proxy sends the header Koa is to read (X-Real-IP) but app.proxy is off: every client shares its address', async () => {
    const { ip, warned } = await warnings({ proxyIpHeader: 'X-Real-IP' }, { 'x-real-ip': '203.0.113.7' });
    expect(ip).toBe('127.0.0.1');
    expect(warned).toEqual([expect.stringMatching(/arrive with X-Real-IP but the app trusts no proxy/)]);
  });

  it('still warns when every X-Forwarded-For hop is trusted', async () => {
    const { warned } = await warnings({ proxy: true }, { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' });
    expect(warned).toHaveLength(1);
  });

  it('warns of a maxIpsCount above 64 as of every hop trusted (as Express a hop count): the client writes its address', async () => {
    const { ip, warned } = await warnings(
      { proxy: true, maxIpsCount: 100 },
      { 'x-forwarded-for': '6.6.6.6, 10.0.0.1' },
    );
    expect(ip).toBe('6.6.6.6');
    expect(warned).toEqual([expect.stringMatching(/trusts every proxy/)]);
    expect(
      (await warnings({ proxy: true, maxIpsCount: 2 }, { 'x-forwarded-for': '6.6.6.6, 10.0.0.1' })).warned,
    ).toEqual([]);
  });
});

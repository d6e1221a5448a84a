import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fixedWindow } from '@resilience/core';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { rateLimit } from './index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Two requests, each from another X-Forwarded-For address, under a limit of one a minute. */
async function spoofed(trustProxy: unknown) {
  const warned: string[] = [];
  const app = express();
  app.set('trust proxy', trustProxy);
  const logger = { info() {}, error() {}, warn: (_: unknown, message: string) => warned.push(message) };
  app.use(rateLimit({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), logger }));
  app.get('/', (req, res) => {
    res.send(req.ip);
  });
  const server = http.createServer(app);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const statuses: number[] = [];
  for (const client of ['203.0.113.1', '203.0.113.2']) {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    statuses.push((await fetch(url, { headers: { 'x-forwarded-for': `${client}, 10.0.0.1` } })).status);
  }
  return { statuses, warned };
}

describe('Express rateLimit: the proxy-trust warning reads what `trust proxy` compiles to', () => {
  it('warns of spoofing when a function or a hop count trusts every hop, as for `true`', async () => {
    for (const setting of [true, () => true, 100]) {
      const { statuses, warned } = await spoofed(setting);
      expect(statuses).toEqual([200, 200]); // each spoofed address has a quota of its own
      expect(warned).toEqual([expect.stringMatching(/trusts every proxy/)]);
    }
  });

  it('says nothing when a hop count, a bounded function or a list of addresses trusts the proxies in front', async () => {
    for (const setting of [1, 2, (_: string, hop: number) => hop < 2, 'loopback', ['loopback', '10.0.0.0/8']]) {
      const { warned } = await spoofed(setting);
      expect(warned).toEqual([]);
    }
  });
});

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type EventLogger, fixedWindow, metrics } from '@resilience/core';
import Koa, { type Middleware } from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler, idempotency, rateLimit, timeout } from './index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** The warnings errorHandler logs over three requests to an app of `stack` (a function of the logger). */
async function warnings(stack: (logger: EventLogger) => Middleware[]) {
  const warned: string[] = [];
  const logger: EventLogger = {
    info() {},
    error() {},
    warn: (_: unknown, message: string) => void warned.push(message),
  };
  const app = new Koa();
  for (const middleware of stack(logger)) app.use(middleware);
  app.use((ctx) => {
    ctx.body = { ok: true };
  });
  const server = http.createServer(app.callback());
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  for (let i = 0; i < 3; i++) expect((await fetch(url, { method: 'POST' })).status).toBe(200);
  return warned;
}

const limit = () =>
  rateLimit({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), logger: { info() {}, warn() {}, error() {} } });

describe('Koa errorHandler mounted after another resilience middleware', () => {
  it('warns once, naming the fix: it cannot answer or record what the middleware before it refuses', async () => {
    const warned = await warnings((logger) => [limit(), idempotency(), errorHandler({ logger })]);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/errorHandler.*mount it first/);
  });

  it('says nothing when it is mounted first', async () => {
    expect(await warnings((logger) => [errorHandler({ logger }), limit(), idempotency()])).toEqual([]);
  });

  it('says nothing after timeout, whose 503 it records all the same', async () => {
    const warned: string[] = [];
    const logger: EventLogger = {
      info() {},
      error() {},
      warn: (_: unknown, message: string) => void warned.push(message),
    };
    const stats = metrics();
    const app = new Koa();
    app.use(timeout({ ms: 1 }));
    app.use(errorHandler({ logger, collector: stats }));
    // Hangs until the timeout has answered for it.
    app.use((ctx) => new Promise((resolve) => ctx.res.once('finish', resolve)));
    const server = http.createServer(app.callback());
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const answer = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(answer.status).toBe(503);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    await expect.poll(() => stats.snapshot().failed).toBe(1);
    expect(stats.snapshot().errorsByType).toMatchObject({ RequestTimeoutError: 1 });
    expect(warned).toEqual([]);
  });
});

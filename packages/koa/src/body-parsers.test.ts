import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import koaBodyParser from 'koa-bodyparser';
import { afterEach, describe, expect, it } from 'vitest';
import { idempotency } from './index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(parser: Koa.Middleware) {
  const app = new Koa();
  app.use(idempotency({ logger: { info() {}, warn() {}, error() {} } }));
  app.use(parser);
  app.use((ctx) => {
    const request = ctx.request as unknown as { body?: unknown; rawBody?: unknown };
    ctx.body = { body: request.body, rawBody: request.rawBody };
  });
  const server = http.createServer(app.callback());
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const post = (url: string, key: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: '{"b":2,"a":1}',
  });

describe('idempotency before a Koa body parser', () => {
  for (const [name, parser] of [
    ['@koa/bodyparser', bodyParser() as unknown as Koa.Middleware],
    ['koa-bodyparser', koaBodyParser() as unknown as Koa.Middleware],
  ] as const) {
    it(`leaves the body it read for ${name}, which skips the consumed stream instead of hanging`, async () => {
      const url = await serve(parser);
      const res = await post(url, '"k-1"');
      expect(await res.json()).toEqual({ body: { b: 2, a: 1 }, rawBody: '{"b":2,"a":1}' });
      const replay = await post(url, '"k-1"');
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
    });
  }
});

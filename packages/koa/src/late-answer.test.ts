import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { FakeClock } from '@resilience/core/testing';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { idempotency, requestSignal, timeout } from './index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A Koa app: `upstream`, then `timeout({ ms: 1_000 })`, `idempotency`, and `handler`, whose
 * first run waits for `release`. `timedOut()` sends the first request and lets it time out.
 */
async function timedOutApp(
  handler: (ctx: Koa.Context) => void | Promise<void>,
  upstream: Koa.Middleware = (_ctx, next) => next(),
) {
  const clock = new FakeClock(0);
  const entered = deferred();
  const release = deferred();
  let runs = 0;
  const app = new Koa();
  app.use(upstream);
  app.use(timeout({ ms: 1_000, clock }));
  app.use(idempotency({ clock, logger: { info() {}, warn() {}, error() {} } }));
  app.use(async (ctx) => {
    if (++runs === 1) {
      entered.resolve();
      await release.promise;
    }
    await handler(ctx);
  });
  const server = http.createServer(app.callback());
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
  const post = () =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': '"k-1"' },
      body: '{}',
    });
  const timedOut = async () => {
    const answer = post();
    await entered.promise;
    await clock.advance(1_000);
    return answer;
  };
  const retryUntilFree = async () => {
    let res = await post();
    for (let i = 0; i < 50 && res.status === 409; i++) res = await post();
    return res;
  };
  return { post, timedOut, retryUntilFree, release, runs: () => runs };
}

describe('Koa: the late answer of a request the timeout answered', () => {
  it('upstream middleware after next() reads the 503 and may set a header; the handler’s text answer is still replayed', async () => {
    const seen: number[] = [];
    const { post, timedOut, retryUntilFree, release, runs } = await timedOutApp(
      (ctx) => {
        ctx.status = 202;
        ctx.set('location', '/jobs/1');
        ctx.body = 'queued';
      },
      async (ctx, next) => {
        await next();
        seen.push(ctx.status);
        ctx.set('x-response-time', '1000ms');
      },
    );
    const answer = await timedOut();
    expect([answer.status, answer.headers.get('x-response-time')]).toEqual([503, null]);
    expect((await post()).status).toBe(409);
    release.resolve();
    const retried = await retryUntilFree();
    expect([retried.status, retried.headers.get('idempotent-replayed'), retried.headers.get('location')]).toEqual([
      202,
      'true',
      '/jobs/1',
    ]);
    expect([retried.headers.get('content-type'), await retried.text()]).toEqual([
      'text/plain; charset=utf-8',
      'queued',
    ]);
    expect(seen[0]).toBe(503);
    expect(runs()).toBe(1);
  });

  it('an answer set as the signal aborts, before the 503 has closed, is not recorded: the key is freed when the handler settles', async () => {
    let first = true;
    const app = await timedOutApp(async (ctx) => {
      const signal = requestSignal(ctx);
      if (first) await new Promise((resolve) => signal.addEventListener('abort', resolve));
      first = false;
      // Koa's reads (a Content-Type already set?) still see the 503 here: what it sets may not be what it means.
      ctx.status = 201;
      ctx.body = 'charged';
    });
    app.release.resolve();
    expect((await app.timedOut()).status).toBe(503);
    const retried = await app.retryUntilFree();
    expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([201, null]);
    expect(app.runs()).toBe(2);
  });

  it('a late 204 with a null body is recorded and replayed, not thrown on', async () => {
    const { post, timedOut, retryUntilFree, release, runs } = await timedOutApp((ctx) => {
      ctx.status = 204;
      ctx.body = null;
    });
    expect((await timedOut()).status).toBe(503);
    expect((await post()).status).toBe(409);
    release.resolve();
    const retried = await retryUntilFree();
    expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([204, 'true']);
    expect(runs()).toBe(1);
  });

  it('a late streamed ctx.body is not recorded: the key is held until the handler settles, then freed', async () => {
    const { post, timedOut, retryUntilFree, release, runs } = await timedOutApp((ctx) => {
      ctx.body = Readable.from(['one,', 'two']);
    });
    expect((await timedOut()).status).toBe(503);
    expect((await post()).status).toBe(409);
    release.resolve();
    const retried = await retryUntilFree();
    expect([retried.status, retried.headers.get('idempotent-replayed'), await retried.text()]).toEqual([
      200,
      null,
      'one,two',
    ]);
    expect(runs()).toBe(2);
  });
});

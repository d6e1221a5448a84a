import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { metrics, recentErrors, tokenBucket } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler, rateLimit, timeout } from './index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/**
 * A Koa app with `errorHandler` first and `body` as the handler's `ctx.body`. `closed()`
 * settles once the first request's response has closed and the error handler has heard of it.
 */
async function app(body: () => unknown, ...between: Koa.Middleware[]) {
  const stats = metrics();
  const recent = recentErrors({ max: 10 });
  const logged: string[] = [];
  const emitted: string[] = [];
  let closed!: () => void;
  const done = new Promise<void>((resolve) => (closed = resolve));
  const koa = new Koa();
  koa.on('error', (error: Error) => emitted.push(error.message));
  koa.use(async (ctx, next) => {
    // Registered before the error handler's: a turn later, its record is made.
    ctx.res.once('close', () => setImmediate(closed));
    await next();
  });
  const logger = { info() {}, warn() {}, error: (_: unknown, message: string) => logged.push(message) };
  koa.use(errorHandler({ collector: stats, recentErrors: recent, logger }));
  for (const m of between) koa.use(m);
  koa.use((ctx) => {
    ctx.body = body();
  });
  const server = http.createServer(koa.callback());
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/files/1`;
  const outcome = () => {
    const s = stats.snapshot();
    return {
      calls: s.calls,
      failed: s.failed,
      cancelled: s.errorsByCategory.cancelled,
      recent: recent.list().map((e) => e.status),
      logged,
      emitted,
    };
  };
  return { url, closed: () => done, outcome };
}

/** A stream that sends one chunk, then fails (a file or cursor read error, say). */
function failingNodeStream() {
  const stream = new Readable({ read() {} });
  stream.push('first chunk,');
  stream.once('resume', () => setImmediate(() => stream.destroy(new Error('disk read failed'))));
  return stream;
}

describe('Koa errorHandler: what fails as Koa responds', () => {
  it('a Node stream body that fails mid-way is a server failure (500, logged once), not a client that left', async () => {
    const { url, closed, outcome } = await app(failingNodeStream);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    await closed();
    expect(outcome()).toEqual({
      calls: 1,
      failed: 1,
      cancelled: 0,
      recent: [500],
      logged: ['GET /files/1 failed: disk read failed'],
      emitted: [],
    });
  });

  it('a web ReadableStream body that fails mid-way is a server failure too', async () => {
    const { url, closed, outcome } = await app(
      () =>
        new ReadableStream({
          pull(controller) {
            controller.enqueue(new TextEncoder().encode('first chunk,'));
            setImmediate(() => controller.error(new Error('upstream failed')));
          },
        }),
    );
    const response = await fetch(url);
    await expect(response.text()).rejects.toThrow();
    await closed();
    expect(outcome()).toMatchObject({ failed: 1, cancelled: 0, recent: [500], emitted: [] });
  });

  it('a body JSON cannot write is answered as problem+json 500, keeping the other headers', async () => {
    const { url, closed, outcome } = await app(() => ({ id: 1n }));
    const response = await fetch(url);
    expect([response.status, response.headers.get('content-type')]).toEqual([500, 'application/problem+json']);
    expect(((await response.json()) as { status: number }).status).toBe(500);
    await closed();
    expect(outcome()).toMatchObject({ failed: 1, recent: [500], emitted: [] });
    expect(outcome().logged).toHaveLength(1);
  });

  it('a client that leaves a stream mid-way is still a cancelled request, nothing logged', async () => {
    const { url, closed, outcome } = await app(() =>
      new Readable({ read() {} }).once('resume', function (this: Readable) {
        this.push('first chunk,');
      }),
    );
    const abort = new AbortController();
    const response = await fetch(url, { signal: abort.signal });
    const reader = response.body!.getReader();
    await reader.read();
    abort.abort();
    await closed();
    expect(outcome()).toMatchObject({ calls: 0, failed: 0, cancelled: 1, logged: [], emitted: [] });
  });
});

describe('Koa errorHandler: a timeout that cuts a streamed body off', () => {
  for (const [kind, body] of [
    [
      'Node stream',
      () =>
        new Readable({ read() {} }).once('resume', function (this: Readable) {
          this.push('first,');
        }),
    ],
    [
      'web ReadableStream',
      () =>
        new ReadableStream({ pull: (c) => c.enqueue(new TextEncoder().encode('first,')) }).pipeThrough(
          new TransformStream(),
        ),
    ],
  ] as const) {
    it(`${kind}: recorded once as the timeout (503), logged once, not passed to app.on('error')`, async () => {
      const clock = new FakeClock(0);
      const served = await app(body, timeout({ ms: 1_000, clock }));
      const response = await fetch(served.url);
      await response.body!.getReader().read();
      await clock.advance(1_000);
      await served.closed();
      const { failed, recent, logged, emitted } = served.outcome();
      expect({ failed, recent, logged, emitted }).toEqual({
        failed: 1,
        recent: [503],
        logged: ['GET /files/1 failed: Request timed out after 1000 ms'],
        emitted: [],
      });
    });
  }
});

describe('a client that resets while a refusal waits for its body', () => {
  it('reaches no app error: the request was refused, and its client left', async () => {
    const emitted: string[] = [];
    let closed = () => {};
    const koa = new Koa();
    koa.on('error', (error: Error) => emitted.push(error.message));
    koa.use(async (ctx, next) => {
      ctx.res.once('close', () => setImmediate(() => closed()));
      await next();
    });
    koa.use(errorHandler({ logger: { info() {}, warn() {}, error() {} } }));
    koa.use(rateLimit({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 0.0001 }), key: () => 'one' }));
    koa.use((ctx) => {
      ctx.body = 'ok';
    });
    const server = http.createServer(koa.callback());
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200); // the one token
    for (let i = 0; i < 5; i++) {
      const done = new Promise<void>((resolve) => (closed = resolve));
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      await once(socket, 'connect');
      // Head and one byte of ten: the 429 waits a turn for the body; the client resets meanwhile.
      socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nx');
      socket.resetAndDestroy();
      await done;
    }
    expect(emitted).toEqual([]);
  });
});

// Koa driven by raw HTTP/1.1 bytes: what a client that is no friendly client gets.
import { FakeClock } from '@resilience/core/testing';
import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import { afterEach, describe, expect, it } from 'vitest';
import { rawClient, type Served, send, serve } from '../../node-server/src/testing/http.js';
import { errorHandler, idempotency, loadShedding, timeout } from './index.js';

let served: Served | undefined;
afterEach(() => served?.close());

const quiet = { info() {}, warn() {}, error() {} };

describe('Koa under raw HTTP/1.1', () => {
  it('frees the loadShedding slot of a keyed request whose body never came once timeout answers it', async () => {
    const clock = new FakeClock(0);
    let runs = 0;
    const app = new Koa();
    app.use(errorHandler({ logger: quiet }));
    app.use(loadShedding({ maxConcurrent: 1, clock }));
    app.use(timeout({ ms: 1_000, clock }));
    app.use(idempotency({ clock }));
    app.use(bodyParser());
    app.use((ctx) => {
      ctx.body = { run: ++runs };
    });
    served = await serve(app.callback());
    const slow = await rawClient(served.port);
    slow.socket.write(
      'POST / HTTP/1.1\r\nHost: x\r\nIdempotency-Key: "k"\r\nContent-Type: application/json\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n',
    );
    await slow.until('100 Continue');
    slow.socket.write('{"a"');
    await clock.advance(1_000);
    await slow.until('503 Service Unavailable');
    const next = await send(served.port, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(next.status).toBe(200);
    slow.socket.destroy();
    const retry = await send(served.port, {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json', 'idempotency-key': '"k"' },
    });
    expect([retry.status, retry.headers['idempotent-replayed']]).toEqual([200, undefined]);
    expect(runs).toBe(2);
  });
});

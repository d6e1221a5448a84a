// Express driven by raw HTTP/1.1 bytes: what a client that is no friendly client gets.
import { FakeClock } from '@resilience/core/testing';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { rawClient, type Served, send, serve } from '../../node-server/src/testing/http.js';
import { errorHandler, idempotency, loadShedding, timeout } from './index.js';

let served: Served | undefined;
afterEach(() => served?.close());

const quiet = { info() {}, warn() {}, error() {} };

describe('Express under raw HTTP/1.1', () => {
  it('frees the loadShedding slot of a keyed request whose body never came once timeout answers it', async () => {
    const clock = new FakeClock(0);
    let runs = 0;
    const app = express();
    app.use(loadShedding({ maxConcurrent: 1, clock }));
    app.use(timeout({ ms: 1_000, clock }));
    app.use(idempotency({ clock }));
    app.use(express.json());
    app.post('/', (_req, res) => void res.json({ run: ++runs }));
    app.use(errorHandler({ logger: quiet }));
    served = await serve(app);
    const slow = await rawClient(served.port);
    // Expect: 100-continue, and the body never sent (or sent in part: a slowloris).
    slow.socket.write(
      'POST / HTTP/1.1\r\nHost: x\r\nIdempotency-Key: "k"\r\nContent-Type: application/json\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n',
    );
    await slow.until('100 Continue');
    slow.socket.write('{"a"');
    await clock.advance(1_000);
    await slow.until('503 Service Unavailable');
    // The handler never ran and never will: the slot is free, the key never taken.
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

  it('frees the key at once when end() throws (strictContentLength): the retry runs, never a 409 for lockTimeoutMs', async () => {
    let runs = 0;
    const app = express();
    app.use(idempotency());
    app.post('/', (_req, res) => {
      runs++;
      res.strictContentLength = true;
      res.setHeader('content-length', 5);
      res.end('abc'); // throws ERR_HTTP_CONTENT_LENGTH_MISMATCH: the head is made, nothing sent
    });
    app.use(errorHandler({ logger: quiet }));
    served = await serve(app);
    const keyed = { method: 'POST', body: '', headers: { 'idempotency-key': '"k"' } };
    await expect(send(served.port, keyed)).rejects.toThrow(); // cut off: the response had begun
    await expect(send(served.port, keyed)).rejects.toThrow();
    expect(runs).toBe(2);
  });
});

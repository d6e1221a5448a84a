// Express driven by raw HTTP/1.1 bytes: what a client that is no friendly client gets.
import { fixedWindow } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { type RawClient, rawClient, type Served, send, serve } from '../../node-server/src/testing/http.js';
import { errorHandler, idempotency, loadShedding, rateLimit, timeout } from './index.js';

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

  it('sheds the second of two pipelined requests under maxConcurrent: 1, however fast the first: Node runs them at once', async () => {
    const app = express();
    app.use(loadShedding({ maxConcurrent: 1 }));
    app.get('/', (_req, res) => void res.end('ok'));
    served = await serve(app);
    const client = await rawClient(served.port);
    client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await client.until('HTTP/1.1 ', 2);
    expect(client.text().match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 503']);
    client.socket.destroy();
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

/** Writes `request` on a new connection; resolves once the answer's head came. */
async function answered(port: number, request: string): Promise<RawClient> {
  const client = await rawClient(port);
  client.socket.write(request);
  await client.until('\r\n\r\n');
  return client;
}

/** True once the server ended the connection; false if it answers another request on it. */
function closes(client: RawClient): Promise<boolean> {
  const before = client.text().split('HTTP/1.1 ').length - 1;
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  return client.until('HTTP/1.1 ', before + 1).then(
    () => false,
    () => true,
  );
}

const POST = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n';

describe('Express: an answer of the toolkit given before the request body came', () => {
  /** An app whose rateLimit admits one request, then answers 429 at once (a memory store). */
  async function limited() {
    const app = express();
    app.use(rateLimit({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), key: () => 'all' }));
    app.use((_req, res) => void res.end('ok'));
    served = await serve(app);
    expect((await send(served.port)).status).toBe(200);
    return served.port;
  }

  it('closes the connection after a 429 while the body is still to come (Connection: close), rather than read it all', async () => {
    const port = await limited();
    // A gigabyte announced, a few bytes sent: Node would read (and throw away) all of it.
    const client = await answered(port, `${POST}Content-Length: 1000000000\r\n\r\nabc`);
    expect(client.text()).toMatch(/^HTTP\/1\.1 429 [\s\S]*\r\nconnection: close\r\n/i);
    expect(await closes(client)).toBe(true);
  });

  it('keeps the connection after a 429 to a request whose whole body came with its head, or that has none (GET, HEAD)', async () => {
    const port = await limited();
    for (const request of [
      `${POST}Content-Length: 5\r\n\r\nhello`,
      `${POST}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
      'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n',
      `${POST}Content-Length: 0\r\n\r\n`,
    ]) {
      const client = await answered(port, request);
      expect(client.text()).toMatch(/^HTTP\/1\.1 429 [\s\S]*\r\nconnection: keep-alive\r\n/i);
      expect(await closes(client)).toBe(false);
      client.socket.destroy();
    }
  });

  it("closes after a 429 to `Expect: 100-continue` whose body never came after Node's 100 Continue", async () => {
    const port = await limited();
    const client = await rawClient(port);
    client.socket.write(`${POST}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    await client.until('429 Too Many Requests');
    expect(client.text()).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 429 [\s\S]*\r\nconnection: close\r\n/i);
    expect(await closes(client)).toBe(true);
  });

  it("closes after a 429 to `Expect: 100-continue` answered without 100 Continue (the server's checkContinue): Node's own rule", async () => {
    const port = await limited();
    served!.server.on('checkContinue', (req, res) => served!.server.emit('request', req, res));
    const client = await answered(port, `${POST}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    expect(client.text()).toMatch(/^HTTP\/1\.1 429 [\s\S]*\r\nconnection: close\r\n/i);
    expect(await closes(client)).toBe(true);
  });

  it('closes after a timeout 503 while a body trickles in (a slowloris), a shed 503 and an error answered before the body was read', async () => {
    const clock = new FakeClock(0);
    const app = express();
    app.post('/fail', () => {
      throw new Error('boom');
    });
    app.use(loadShedding({ maxConcurrent: 1, clock }));
    app.use(timeout({ ms: 1_000, clock }));
    app.post('/', () => {}); // never reads the body, never answers
    app.use(errorHandler({ logger: quiet }));
    served = await serve(app);
    const slow = await rawClient(served.port);
    slow.socket.write(`${POST}Content-Length: 10\r\n\r\nabc`);
    // The slot is the slow request's: the next one is shed.
    const shed = await answered(served.port, `${POST}Content-Length: 10\r\n\r\nabc`);
    expect(shed.text()).toMatch(/^HTTP\/1\.1 503 [\s\S]*\r\nconnection: close\r\n/i);
    expect(await closes(shed)).toBe(true);
    await clock.advance(1_000);
    await slow.until('\r\n\r\n');
    expect(slow.text()).toMatch(/^HTTP\/1\.1 503 [\s\S]*\r\nconnection: close\r\n/i);
    expect(await closes(slow)).toBe(true);
    const failed = await answered(served.port, `${POST.replace('/ ', '/fail ')}Content-Length: 10\r\n\r\nabc`);
    expect(failed.text()).toMatch(/^HTTP\/1\.1 500 [\s\S]*\r\nconnection: close\r\n/i);
    expect(await closes(failed)).toBe(true);
  });

  it("leaves the handler's own answer alone: Node reads the rest of the body and keeps the connection", async () => {
    const app = express();
    app.post('/', (_req, res) => void res.status(401).end());
    served = await serve(app);
    const client = await answered(served.port, `${POST}Content-Length: 10\r\n\r\nabc`);
    expect(client.text()).toMatch(/^HTTP\/1\.1 401 [\s\S]*\r\nconnection: keep-alive\r\n/i);
    client.socket.write('defghij');
    expect(await closes(client)).toBe(false);
    client.socket.destroy();
  });
});

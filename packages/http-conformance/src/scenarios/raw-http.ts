// Raw HTTP/1.1 bytes on a socket of their own: what a client that is no friendly client gets
// (a body announced and never sent, `Expect: 100-continue`, pipelined requests), and when an
// answer of the toolkit given before the request body came closes the connection.
import type { Socket } from 'node:net';
import { fixedWindow, memoryStore, type Store } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { type RawClient, rawClient } from '@resilience/node-server/testing';
import { expect } from 'vitest';
import { deferred } from '../context.js';
import type { Context, Scenario } from '../scenario.js';

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

/** A memory store whose `apply` answers once `wait()` has settled: a slow store, or one a round trip away. */
function applyingAfter(wait: () => Promise<unknown>): Store {
  const inner = memoryStore();
  return {
    async apply(key, transition, input, now) {
      await wait();
      return inner.apply(key, transition, input, now);
    },
    applyAll: (operations, now) => inner.applyAll(operations, now),
    get: (key, now) => inner.get(key, now),
    set: (key, state, ttlMs, now) => inner.set(key, state, ttlMs, now),
    delete: (key) => inner.delete(key),
    keys: (prefix, now, options) => inner.keys(prefix, now, options),
  };
}

/**
 * An app whose rateLimit admits one request, then answers 429 at once (a memory store), on a
 * clock that stands still: the system's could start a new window between the requests.
 */
async function limited(t: Context) {
  const app = await t.serve([
    t.m.rateLimit({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      key: () => 'all',
      clock: new FakeClock(0),
    }),
    t.m.route('GET', '/', () => ({ text: 'ok' })),
  ]);
  expect((await app.fetch('/')).status).toBe(200);
  return app;
}

export const rawHttpScenarios: Scenario[] = [
  {
    area: 'loadShedding',
    name: 'frees the slot at once of a keyed request whose client sent it whole and left while a middleware before idempotency ran',
    async run(t) {
      const clock = new FakeClock(0);
      // A rate-limit store that answers once released: the client leaves meanwhile.
      const entered = deferred();
      const release = deferred();
      const slow = applyingAfter(() => {
        entered.resolve();
        return release.promise;
      });
      let runs = 0;
      const app = await t.serve([
        t.m.loadShedding({ maxConcurrent: 1, clock }),
        t.m.rateLimit({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), store: slow, clock }),
        t.m.idempotency({ clock, logger: t.logger() }),
        t.m.route('POST', '/', () => ({ json: { run: ++runs } })),
      ]);
      const left = deferred();
      app.server.once('connection', (socket) => socket.once('close', () => left.resolve()));
      const client = await rawClient(app.port);
      client.socket.write(
        `${POST.replace('text/plain', 'application/json')}Idempotency-Key: "k"\r\nContent-Length: 2\r\n\r\n{}`,
      );
      await entered.promise;
      client.socket.destroy();
      await left.promise; // Node has destroyed the request, whose whole body had come
      release.resolve();
      // The body is never to be read: no handler runs, and the slot is free, not held for abandonedHoldMs.
      const next = await app.fetch('/', {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect([next.status, runs]).toEqual([200, 1]);
    },
  },
  {
    area: 'rateLimit',
    name: "keeps an HTTP/1.0 client's keep-alive connection after a 429, as after a 200 (the answer says its length)",
    async run(t) {
      const app = await limited(t);
      const client = await rawClient(app.port);
      const request = 'GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n';
      client.socket.write(request);
      await client.until('429 Too Many Requests');
      await client.until('"status":429');
      expect(client.text()).toMatch(/\r\ncontent-length: \d+\r\n/i);
      client.socket.write(request);
      await client.until('429 Too Many Requests', 2); // answered again on the same connection
      client.socket.destroy();
    },
  },
  {
    area: 'loadShedding',
    name: 'frees the loadShedding slot of a keyed request whose body never came once timeout answers it',
    async run(t) {
      const clock = new FakeClock(0);
      let runs = 0;
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.loadShedding({ maxConcurrent: 1, clock }),
        t.m.timeout({ ms: 1_000, clock }),
        t.m.idempotency({ clock }),
        t.m.parser('json'),
        t.m.route('POST', '/', () => ({ json: { run: ++runs } })),
      ]);
      const slow = await rawClient(app.port);
      // Expect: 100-continue, and the body never sent (or sent in part: a slowloris).
      slow.socket.write(
        'POST / HTTP/1.1\r\nHost: x\r\nIdempotency-Key: "k"\r\nContent-Type: application/json\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n',
      );
      await slow.until('100 Continue');
      slow.socket.write('{"a"');
      await clock.advance(1_000);
      await slow.until('503 Service Unavailable');
      // The handler never ran and never will: the slot is free, the key never taken.
      const json = { 'content-type': 'application/json' };
      const next = await app.fetch('/', { method: 'POST', body: '{}', headers: json });
      expect(next.status).toBe(200);
      slow.socket.destroy();
      const retry = await app.fetch('/', {
        method: 'POST',
        body: '{"a":1}',
        headers: { ...json, 'idempotency-key': '"k"' },
      });
      expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([200, null]);
      expect(runs).toBe(2);
    },
  },
  {
    area: 'loadShedding',
    name: 'sheds the second of two pipelined requests under maxConcurrent: 1, however fast the first: Node runs them at once',
    async run(t) {
      const app = await t.serve([
        t.m.loadShedding({ maxConcurrent: 1 }),
        t.m.route('GET', '/', () => ({ text: 'ok' })),
      ]);
      const client = await rawClient(app.port);
      client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await client.until('HTTP/1.1 ', 2);
      expect(client.text().match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 503']);
      client.socket.destroy();
    },
  },
  {
    area: 'idempotency',
    name: 'frees the key at once when end() throws (strictContentLength): the retry runs, never a 409 for lockTimeoutMs',
    async run(t) {
      let runs = 0;
      const app = await t.serve([
        t.m.idempotency(),
        // Node's end() throws ERR_HTTP_CONTENT_LENGTH_MISMATCH: the head is made, nothing sent.
        t.m.route('POST', '/', () => {
          runs++;
          return { text: 'abc', strictContentLength: 5 };
        }),
        t.m.errorHandler({ logger: t.logger() }),
      ]);
      const keyed = { method: 'POST', body: '', headers: { 'idempotency-key': '"k"' } };
      await expect(app.fetch('/', keyed)).rejects.toThrow(); // cut off: the response had begun
      await expect(app.fetch('/', keyed)).rejects.toThrow();
      expect(runs).toBe(2);
    },
  },
  {
    area: 'rateLimit',
    name: 'closes the connection after a 429 while the body is still to come (Connection: close), rather than read it all',
    async run(t) {
      const app = await limited(t);
      // A gigabyte announced, a few bytes sent: Node would read (and throw away) all of it.
      const client = await answered(app.port, `${POST}Content-Length: 1000000000\r\n\r\nabc`);
      expect(client.text()).toMatch(/^HTTP\/1\.1 429 [\s\S]*\r\nconnection: close\r\n/i);
      expect(await closes(client)).toBe(true);
    },
  },
  {
    area: 'rateLimit',
    name: 'keeps the connection after a 429 to a request whose whole body came with its head, or that has none (GET, HEAD)',
    async run(t) {
      const app = await limited(t);
      for (const request of [
        `${POST}Content-Length: 5\r\n\r\nhello`,
        `${POST}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
        'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
        'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n',
        `${POST}Content-Length: 0\r\n\r\n`,
      ]) {
        const client = await answered(app.port, request);
        expect(client.text()).toMatch(/^HTTP\/1\.1 429 [\s\S]*\r\nconnection: keep-alive\r\n/i);
        expect(await closes(client)).toBe(false);
        client.socket.destroy();
      }
    },
  },
  {
    area: 'rateLimit',
    name: "closes after a 429 to `Expect: 100-continue` whose body never came after Node's 100 Continue",
    async run(t) {
      const app = await limited(t);
      const client = await rawClient(app.port);
      client.socket.write(`${POST}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
      await client.until('429 Too Many Requests');
      expect(client.text()).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 429 [\s\S]*\r\nconnection: close\r\n/i);
      expect(await closes(client)).toBe(true);
    },
  },
  {
    area: 'rateLimit',
    name: "closes after a 429 to `Expect: 100-continue` answered without 100 Continue (the server's checkContinue): Node's own rule",
    async run(t) {
      const app = await limited(t);
      app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));
      const client = await answered(app.port, `${POST}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
      expect(client.text()).toMatch(/^HTTP\/1\.1 429 [\s\S]*\r\nconnection: close\r\n/i);
      expect(await closes(client)).toBe(true);
    },
  },
  {
    area: 'timeout',
    name: 'closes after a timeout 503 while a body trickles in (a slowloris), a shed 503 and an error answered before the body was read',
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.route('POST', '/fail', () => {
          throw new Error('boom');
        }),
        t.m.loadShedding({ maxConcurrent: 1, clock }),
        t.m.timeout({ ms: 1_000, clock }),
        t.m.route('POST', '/', () => new Promise(() => {})), // never reads the body, never answers
      ]);
      const slow = await rawClient(app.port);
      slow.socket.write(`${POST}Content-Length: 10\r\n\r\nabc`);
      // The slot is the slow request's: the next one is shed.
      const shed = await answered(app.port, `${POST}Content-Length: 10\r\n\r\nabc`);
      expect(shed.text()).toMatch(/^HTTP\/1\.1 503 [\s\S]*\r\nconnection: close\r\n/i);
      expect(await closes(shed)).toBe(true);
      await clock.advance(1_000);
      await slow.until('\r\n\r\n');
      expect(slow.text()).toMatch(/^HTTP\/1\.1 503 [\s\S]*\r\nconnection: close\r\n/i);
      expect(await closes(slow)).toBe(true);
      const failed = await answered(app.port, `${POST.replace('/ ', '/fail ')}Content-Length: 10\r\n\r\nabc`);
      expect(failed.text()).toMatch(/^HTTP\/1\.1 500 [\s\S]*\r\nconnection: close\r\n/i);
      expect(await closes(failed)).toBe(true);
    },
  },
  {
    area: 'rateLimit',
    name: "leaves the handler's own answer alone (a request the toolkit let through): Node reads the rest of the body and keeps the connection",
    async run(t) {
      const app = await t.serve([
        t.m.rateLimit({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }) }),
        t.m.route('POST', '/', () => ({ status: 401, text: 'no' })),
      ]);
      const client = await answered(app.port, `${POST}Content-Length: 10\r\n\r\nabc`);
      expect(client.text()).toMatch(/^HTTP\/1\.1 401 [\s\S]*\r\nconnection: keep-alive\r\n/i);
      client.socket.write('defghij');
      expect(await closes(client)).toBe(false);
      client.socket.destroy();
    },
  },
  {
    area: 'loadShedding',
    name: 'twenty requests pipelined behind a slow one wait for their turn on one close listener of the connection, not one each (past ten, Node warns of a leak on every such connection)',
    async run(t) {
      const clock = new FakeClock(0);
      const release = deferred();
      let runs = 0;
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.loadShedding({ maxConcurrent: 100, clock }),
        t.m.timeout({ ms: 60_000, clock }),
        t.m.idempotency({ clock }),
        t.m.route('POST', '/', async () => {
          runs++;
          await release.promise;
          return { text: 'ok' };
        }),
      ]);
      const accepted = deferred<Socket>();
      app.server.once('connection', (socket) => accepted.resolve(socket));
      const client = await rawClient(app.port);
      let keyed = '';
      for (let i = 0; i < 21; i++) keyed += `${POST}Idempotency-Key: "k${i}"\r\nContent-Length: 2\r\n\r\nhi`;
      client.socket.write(keyed);
      const socket = await accepted.promise;
      while (runs < 21) await new Promise((resolve) => setImmediate(resolve));
      expect(socket.listenerCount('close')).toBeLessThanOrEqual(socket.getMaxListeners());
      release.resolve();
      await client.until('HTTP/1.1 200', 21);
      client.socket.destroy();
    },
  },
  {
    area: 'idempotency',
    name: 'replays a recorded key to each of two requests pipelined with it: the second waits for no 409',
    async run(t) {
      let runs = 0;
      // A store one round trip away, as Redis is: each answer comes in a later turn.
      const store = applyingAfter(() => new Promise((resolve) => setImmediate(resolve)));
      const app = await t.serve([
        t.m.idempotency({ store, clock: new FakeClock(0) }),
        t.m.route('POST', '/', () => ({ text: `run ${++runs}` })),
      ]);
      const keyed = `${POST}Idempotency-Key: "k"\r\nContent-Length: 2\r\n\r\nhi`;
      const first = await answered(app.port, keyed);
      await first.until('run 1');
      first.socket.destroy();
      // Two retries of the recorded request at once: the second arrived while the first still
      // read the record, and was refused with 409 as if the key were in flight.
      const client = await rawClient(app.port);
      client.socket.write(keyed + keyed);
      await client.until('HTTP/1.1 ', 2);
      expect(client.text().match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
      await client.until('run 1', 2); // the same bytes twice
      expect(runs).toBe(1);
      client.socket.destroy();
    },
  },
];

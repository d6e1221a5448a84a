// multer reads `req` whatever a parser before it left (`req._body`, a read stream): the
// `idempotency` middleware, having read a keyed multipart body to fingerprint it, puts the bytes
// back on the stream, so multer mounted after it (on the route, as its docs show) parses the
// fields and the file instead of failing with "Unexpected end of form" (a 500).
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { brotliCompressSync } from 'node:zlib';
import { recentErrors } from '@resilience/core';
import express from 'express';
import express4 from 'express4';
import multer from 'multer';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler, idempotency } from './index.js';

const quiet = { info() {}, warn() {}, error() {} };
const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function serve(framework: typeof express) {
  const app = framework();
  app.use(idempotency({ logger: quiet }));
  app.post('/uploads', multer().single('file'), (req, res) => {
    res.json({ body: req.body, file: req.file?.originalname, size: req.file?.size, n: Math.random() });
  });
  app.post('/json', express.json(), (req, res) => res.json({ body: req.body }));
  app.use(errorHandler({ logger: quiet }));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// One serialisation, sent twice: a retry sends the same bytes (FormData draws a new boundary each time).
async function upload(value: string) {
  const form = new FormData();
  form.append('a', value);
  form.append('file', new Blob(['hello']), 'h.txt');
  const request = new Request('http://x/', { method: 'POST', body: form });
  return { type: request.headers.get('content-type')!, body: Buffer.from(await request.arrayBuffer()) };
}

const post = (url: string, key: string, form: { type: string; body: Buffer }) =>
  fetch(url, { method: 'POST', headers: { 'content-type': form.type, 'idempotency-key': key }, body: form.body });

describe.each([
  ['Express 5', express],
  ['Express 4', express4 as unknown as typeof express],
])('idempotency before multer on %s', (_name, framework) => {
  it('multer reads the fields and the file; the same bytes again are a replay, others a 422', async () => {
    const url = `${await serve(framework)}/uploads`;
    const form = await upload('1');
    const res = await post(url, '"m-1"', form);
    expect(res.status).toBe(200);
    const first = await res.json();
    expect(first).toMatchObject({ body: { a: '1' }, file: 'h.txt', size: 5 });
    const replay = await post(url, '"m-1"', form);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.json()).toEqual(first);
    expect((await post(url, '"m-1"', await upload('2'))).status).toBe(422);
  });

  it('express.json() after it still gives the handler the body', async () => {
    const url = `${await serve(framework)}/json`;
    const init = {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': '"j-1"' },
      body: '{"b":2,"a":1}',
    };
    expect(await (await fetch(url, init)).json()).toEqual({ body: { b: 2, a: 1 } });
    expect((await fetch(url, init)).headers.get('idempotent-replayed')).toBe('true');
  });
});

describe.each([
  ['Express 5', express],
  ['Express 4', express4 as unknown as typeof express],
])('a client that leaves while multer reads its upload on %s', (_name, framework) => {
  it('is recorded once as cancelled (499), not as a logged 500 of multer\'s "Request aborted"', async () => {
    const errors = recentErrors({ max: 10 });
    const logged: string[] = [];
    const app = framework();
    app.post('/uploads', multer().none(), (_req, res) => res.json({}));
    app.use(errorHandler({ recentErrors: errors, logger: { ...quiet, error: (_f, m) => logged.push(m) } }));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => server.close());
    // Multer reads (busboy listens for the body's data) once the first part has come; then the client leaves.
    const reading = new Promise<void>((resolve) => {
      server.once('request', (req: IncomingMessage) => {
        const poll = () => (req.listenerCount('data') > 0 ? resolve() : setImmediate(poll));
        poll();
      });
    });
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      'POST /uploads HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: 200\r\n\r\n--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nval',
    );
    await reading;
    const recorded = new Promise<void>((resolve) => {
      const list = errors.record.bind(errors);
      errors.record = (error, context) => {
        const entry = list(error, context);
        resolve();
        return entry;
      };
    });
    socket.destroy();
    await recorded;
    expect(errors.list()).toEqual([expect.objectContaining({ status: 499, category: 'cancelled' })]);
    expect(logged).toEqual([]);
  });
});

describe.each([
  ['Express 5', express, 200],
  ['Express 4', express4 as unknown as typeof express, 415], // body-parser 1 decodes no br
])(
  'a parser after idempotency on %s parses a keyed body with its own options, as an unkeyed one',
  (_name, framework, br) => {
    it('its limit, verify, reviver and codings apply with a key as without', async () => {
      let verified = 0;
      const app = framework();
      app.use(idempotency({ logger: quiet }));
      const trim = (_key: string, value: unknown) => (typeof value === 'string' ? value.trim() : value);
      const parser = framework.json({ limit: '1kb', reviver: trim, verify: () => void verified++ });
      app.post('/orders', parser, (req, res) => res.json({ body: req.body }));
      app.use(errorHandler({ logger: quiet }));
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      closers.push(() => server.close());
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
      const send = async (key: string | undefined, body: string | Buffer, coding?: string) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (key !== undefined) headers['idempotency-key'] = key;
        if (coding !== undefined) headers['content-encoding'] = coding;
        const res = await fetch(url, { method: 'POST', headers, body });
        const json = res.status === 200 ? await res.json() : undefined;
        if (json === undefined) await res.arrayBuffer();
        return [res.status, json];
      };
      expect(await send('"r-1"', '{"name":" Ada "}')).toEqual([200, { body: { name: 'Ada' } }]);
      expect(verified).toBe(1);
      const large = JSON.stringify({ note: 'x'.repeat(5_000) });
      expect((await send('"r-2"', large))[0]).toBe(413);
      expect((await send(undefined, large))[0]).toBe(413);
      // An empty body: the parser's own (verify called with a key as without), not one the middleware marked read.
      expect(await send('"r-4"', '')).toEqual([200, { body: {} }]);
      expect(await send(undefined, '')).toEqual([200, { body: {} }]);
      expect(verified).toBe(3);
      const compressed = brotliCompressSync('{"a":1}');
      expect((await send('"r-3"', compressed, 'br'))[0]).toBe(br);
      expect((await send(undefined, compressed, 'br'))[0]).toBe(br);
    });
  },
);

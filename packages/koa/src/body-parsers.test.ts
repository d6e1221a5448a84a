import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { bodyParser } from '@koa/bodyparser';
import multer from '@koa/multer';
import Koa from 'koa';
import { koaBody } from 'koa-body';
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

async function serve(parser: Koa.Middleware, parserFirst = false) {
  const app = new Koa();
  if (parserFirst) app.use(parser);
  app.use(idempotency({ logger: { info() {}, warn() {}, error() {} } }));
  if (!parserFirst) app.use(parser);
  app.use((ctx) => {
    const request = ctx.request as unknown as { body?: unknown; rawBody?: unknown; files?: Record<string, unknown> };
    const file = (ctx as { file?: { originalname?: string; buffer?: Buffer } }).file;
    const files = request.files?.file as { originalFilename?: string } | undefined;
    const name = file?.originalname ?? files?.originalFilename;
    ctx.body = { body: request.body, rawBody: request.rawBody, ...(name && { file: name, n: Math.random() }) };
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
    it(`${name} after it parses the body it put back on the stream, instead of hanging`, async () => {
      const url = await serve(parser);
      const res = await post(url, '"k-1"');
      expect(await res.json()).toEqual({ body: { b: 2, a: 1 }, rawBody: '{"b":2,"a":1}' });
      const replay = await post(url, '"k-1"');
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
    });
  }
});

// koa-body, @koa/multer and formidable read `ctx.req` whatever `ctx.disableBodyParser` says: the
// middleware puts the bytes it read back on the stream, so they parse the body as they would
// alone, instead of answering 500 (a stream that is not readable) or waiting for ever.
describe('idempotency before a parser that reads the stream itself', () => {
  const upload = (value: string) => {
    const form = new FormData();
    form.append('a', value);
    form.append('file', new Blob(['hello']), 'h.txt');
    return form;
  };
  // One serialisation, sent twice: a retry sends the same bytes (FormData draws a new boundary each time).
  const bytes = async (form: FormData) => {
    const request = new Request('http://x/', { method: 'POST', body: form });
    return { type: request.headers.get('content-type')!, body: Buffer.from(await request.arrayBuffer()) };
  };
  const postForm = (url: string, key: string, form: { type: string; body: Buffer }) =>
    fetch(url, { method: 'POST', headers: { 'content-type': form.type, 'idempotency-key': key }, body: form.body });

  it('koa-body reads a JSON body the middleware read, and the retry is replayed', async () => {
    const url = await serve(koaBody() as unknown as Koa.Middleware);
    const res = await post(url, '"k-1"');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { body: unknown }).body).toEqual({ b: 2, a: 1 });
    expect((await post(url, '"k-1"')).headers.get('idempotent-replayed')).toBe('true');
  });

  for (const [name, parser] of [
    ['koa-body({ multipart: true })', koaBody({ multipart: true }) as unknown as Koa.Middleware],
    ['@koa/multer', multer().single('file') as unknown as Koa.Middleware],
  ] as const) {
    it(`${name} reads a multipart body the middleware read: fields and file; the same bytes again are a replay`, async () => {
      const url = await serve(parser);
      const form = await bytes(upload('1'));
      const res = await postForm(url, '"m-1"', form);
      expect(res.status).toBe(200);
      const first = await res.json();
      expect(first).toMatchObject({ body: { a: '1' }, file: 'h.txt' });
      const replay = await postForm(url, '"m-1"', form);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(await replay.json()).toEqual(first);
      expect((await postForm(url, '"m-1"', await bytes(upload('2')))).status).toBe(422);
    });
  }
});

// A keyed body the middleware read and parsed is left on ctx.request.body, which the parsers after
// it skip: mounted first, they apply their own options to it. A body it could not parse is back on
// the stream for the parser after it, which answers it as it answers the same body unkeyed.
describe('a Koa parser and idempotency, in either order', () => {
  const send = async (url: string, key: string | undefined, body: string, type = 'application/json') => {
    const headers: Record<string, string> = { 'content-type': type };
    if (key !== undefined) headers['idempotency-key'] = key;
    const res = await fetch(url, { method: 'POST', headers, body });
    return [res.status, res.status === 200 ? ((await res.json()) as { body: unknown }).body : await res.text()];
  };
  for (const [name, parser] of [
    ['@koa/bodyparser', bodyParser],
    ['koa-bodyparser', koaBodyParser],
  ] as const) {
    it(`${name}: mounted first, its jsonLimit and enableTypes apply with a key as without; after, it skips a body the middleware parsed`, async () => {
      const make = parser as (options: object) => unknown;
      const large = JSON.stringify({ note: 'x'.repeat(5_000) });
      const limited = await serve(make({ jsonLimit: '1kb' }) as Koa.Middleware, true);
      expect((await send(limited, '"l-1"', large))[0]).toBe(413);
      expect((await send(limited, undefined, large))[0]).toBe(413);
      const textOnly = await serve(make({ enableTypes: ['text'] }) as Koa.Middleware, true);
      expect(await send(textOnly, '"t-2"', 'hi', 'text/plain')).toEqual([200, 'hi']);
      // After the middleware: the handler gets the body it read (maxBodyBytes is then the limit).
      const after = await serve(make({ jsonLimit: '1kb' }) as Koa.Middleware);
      expect(await send(after, '"l-2"', large)).toEqual([200, JSON.parse(large)]);
      expect((await send(after, undefined, large))[0]).toBe(413);
    });

    it(`${name}: a body it refuses is answered by its own onError, with a key as without`, async () => {
      const onError = (_error: unknown, ctx: Koa.Context) => ctx.throw(422, 'custom');
      const make = parser as (options: object) => unknown;
      const url = await serve(make({ onError, onerror: onError, jsonStrict: false, strict: false }) as Koa.Middleware);
      expect(await send(url, '"e-1"', '{"a":')).toEqual([422, 'custom']);
      expect(await send(url, undefined, '{"a":')).toEqual([422, 'custom']);
      // Kept by the parser (jsonStrict: false), with a key too: the middleware refuses no JSON value.
      expect(await send(url, '"e-2"', '1')).toEqual([200, 1]);
    });
  }
});

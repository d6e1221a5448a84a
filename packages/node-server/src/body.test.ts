import http from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { isConfigurationError } from '@resilience/core';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { BODY_DEFAULTS, bodyReader, type RequestBody, requestBodyFailure, setRequestBody } from './body.js';
import { ClientDisconnectedError, isRequestBodyError, RequestBodyError } from './errors.js';
import { deferred, type Served, send, serve } from './testing/http.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const json = (value: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value),
});

/** A server that reads each body with `read` and answers what came of it as JSON. */
async function reading(read = bodyReader()) {
  served = await serve(async (req, res) => {
    try {
      const body = await read(req);
      res.end(JSON.stringify({ raw: body?.raw.toString('utf8'), parsed: shape(body) }));
    } catch (error) {
      const e = error as RequestBodyError;
      res.writeHead(e.status ?? 500, { ...e.headers }).end(JSON.stringify({ code: e.code, name: e.name }));
    }
  });
  return served.port;
}

const shape = (body: RequestBody | undefined) =>
  body === undefined ? 'consumed' : Buffer.isBuffer(body.parsed) ? { bytes: body.parsed.length } : body.parsed;

describe('bodyReader', () => {
  it('pins its default limit: 1 MiB', () => {
    expect(BODY_DEFAULTS.maxBodyBytes).toBe(1_048_576);
  });

  it('parses JSON, forms and text as the usual parsers do, and keeps other bodies as bytes', async () => {
    const port = await reading();
    const reply = async (type: string, body: string | Buffer) =>
      JSON.parse((await send(port, { method: 'POST', headers: { 'content-type': type }, body })).text);
    expect(await reply('application/json', '{"b":1,"a":[2]}')).toEqual({
      raw: '{"b":1,"a":[2]}',
      parsed: { b: 1, a: [2] },
    });
    expect(await reply('application/problem+json; charset=utf-8', '\uFEFF{"x":true}')).toMatchObject({
      parsed: { x: true },
    });
    expect(await reply('application/json', '')).toMatchObject({ parsed: {} });
    expect(await reply('application/x-www-form-urlencoded', 'a=1&b=x+y&a=2')).toMatchObject({
      parsed: { a: ['1', '2'], b: 'x y' },
    });
    expect(await reply('text/plain; charset=latin1', Buffer.from('café', 'latin1'))).toMatchObject({ parsed: 'café' });
    expect(await reply('application/octet-stream', Buffer.from([1, 2, 3]))).toMatchObject({ parsed: { bytes: 3 } });
  });

  it('leaves a request without a body alone, and parses nothing without a Content-Type', async () => {
    const read = bodyReader();
    served = await serve(async (req, res) => {
      const body = await read(req);
      res.end(JSON.stringify({ raw: body?.raw.length, parsed: body?.parsed ?? null, touched: req.readableDidRead }));
    });
    expect(JSON.parse((await send(served.port)).text)).toEqual({ raw: 0, parsed: null, touched: false });
    const untyped = await send(served.port, { method: 'POST', body: 'x' });
    expect(JSON.parse(untyped.text)).toEqual({ raw: 1, parsed: null, touched: true });
  });

  it('refuses a body over the limit from its Content-Length, without reading it (413, Connection: close)', async () => {
    const port = await reading(bodyReader({ maxBodyBytes: 10 }));
    const reply = await send(port, json({ long: 'x'.repeat(20) }));
    expect(reply.status).toBe(413);
    expect(reply.headers.connection).toBe('close');
    expect(JSON.parse(reply.text)).toEqual({ code: 'body_too_large', name: 'RequestBodyError' });
  });

  it('stops reading a chunked body as soon as it passes the limit', async () => {
    const port = await reading(bodyReader({ maxBodyBytes: 10 }));
    const answered = deferred<number>();
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', agent: false }, (res) =>
      answered.resolve(res.statusCode ?? 0),
    );
    req.on('error', () => {});
    req.write('x'.repeat(8));
    req.write('x'.repeat(8)); // the stream stays open: the 413 cannot wait for its end
    expect(await answered.promise).toBe(413);
    req.destroy();
  });

  it('inflates gzip bodies, and refuses one that inflates past the limit', async () => {
    const port = await reading(bodyReader({ maxBodyBytes: 100 }));
    const gz = (text: string) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(text),
    });
    expect(JSON.parse((await send(port, gz('{"a":1}'))).text)).toMatchObject({ parsed: { a: 1 } });
    const bomb = gzipSync(`"${'0'.repeat(10_000)}"`);
    expect(bomb.length).toBeLessThan(100);
    expect((await send(port, { ...gz(''), body: bomb })).status).toBe(413);
  });

  it('refuses no body it cannot decode or parse: it keeps the bytes, unparsed, for the parser after it to answer', async () => {
    const port = await reading();
    const read = async (headers: Record<string, string>, body: string) => {
      const res = await send(port, { method: 'POST', headers, body });
      return [res.status, JSON.parse(res.text)];
    };
    const json = { 'content-type': 'application/json' };
    expect(await read(json, '{"a":')).toEqual([200, { raw: '{"a":' }]);
    expect(await read(json, '1')).toEqual([200, { raw: '1' }]);
    expect(await read({ ...json, 'content-encoding': 'gzip' }, 'not gzip')).toEqual([200, { raw: 'not gzip' }]);
    // Names Object.prototype has are no codings either.
    for (const coding of ['compress', 'constructor', '__proto__', 'toString'])
      expect(await read({ ...json, 'content-encoding': coding }, '{}')).toEqual([200, { raw: '{}' }]);
    expect(await read({ 'content-type': 'text/plain; charset=klingon' }, 'x')).toEqual([200, { raw: 'x' }]);
    expect(await read({ ...json, 'content-type': 'application/json; charset=latin1' }, '{}')).toEqual([
      200,
      { raw: '{}' },
    ]);
  });

  it('resolves undefined for a stream something has already read, instead of hanging', async () => {
    const read = bodyReader();
    served = await serve((req, res) => {
      req.resume();
      req.on('end', async () => res.end(String(await read(req))));
    });
    expect((await send(served.port, json({ a: 1 }))).text).toBe('undefined');
  });

  it('rejects with ClientDisconnectedError when the client leaves mid-body', async () => {
    const read = bodyReader();
    const outcome = deferred<unknown>();
    const started = deferred();
    served = await serve((req) => {
      req.once('data', () => started.resolve());
      read(req).then(outcome.resolve, outcome.resolve);
    });
    const req = http.request({ host: '127.0.0.1', port: served.port, method: 'POST', agent: false });
    req.on('error', () => {});
    req.write('part of a body');
    await started.promise;
    req.destroy();
    expect(await outcome.promise).toBeInstanceOf(ClientDisconnectedError);
  });

  it('fails at once, not never, on a request whose client sent it all and left before it was read', async () => {
    const read = bodyReader();
    const outcome = deferred<unknown>();
    served = await serve((req) => {
      // An async middleware before the reader (an auth lookup) still runs when the client leaves:
      // Node destroys the request, whose whole body had come, and no 'data', 'end' or 'close' follows.
      req.once('close', async () => {
        const reading = read(req).then(
          (body) => body,
          (error: unknown) => error,
        );
        const pending = new Promise((resolve) => setImmediate(() => resolve('still pending')));
        outcome.resolve(await Promise.race([reading, pending]));
      });
    });
    const socket = connect(served.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    socket.once('connect', () => setImmediate(() => socket.destroy()));
    expect(await outcome.promise).toBeInstanceOf(ClientDisconnectedError);
  });

  it('stops reading when its signal aborts', async () => {
    const read = bodyReader();
    const controller = new AbortController();
    const outcome = deferred<unknown>();
    served = await serve((req) => {
      read(req, controller.signal).then(outcome.resolve, outcome.resolve);
      req.once('data', () => controller.abort('request timed out'));
    });
    const req = http.request({ host: '127.0.0.1', port: served.port, method: 'POST', agent: false });
    req.on('error', () => {});
    req.write('part of a body');
    expect(await outcome.promise).toBe('request timed out');
    req.destroy();
  });

  it('rejects a bad maxBodyBytes, naming it', () => {
    expect(() => bodyReader({ maxBodyBytes: -1 })).toThrow(/maxBodyBytes/);
    expect(() => bodyReader({ maxBodyBytes: 1.5 })).toThrow(expect.objectContaining({ code: 'invalid_options' }));
    expect(
      isConfigurationError(
        (() => {
          try {
            bodyReader({ max: 1 } as never);
          } catch (e) {
            return e;
          }
        })(),
      ),
    ).toBe(true);
  });

  it('marks its errors so another bundle of this code recognises them', () => {
    expect(isRequestBodyError(new RequestBodyError('body_invalid', 'x'))).toBe(true);
    expect(isRequestBodyError(Object.assign(new Error('x'), { name: 'RequestBodyError', code: 'body_invalid' }))).toBe(
      true,
    );
    expect(isRequestBodyError(new Error('x'))).toBe(false);
  });
});

describe('setRequestBody with Express 5 parsers downstream', () => {
  async function app(parsers: express.RequestHandler[], attach: boolean) {
    const read = bodyReader();
    const application = express();
    application.use(async (req, _res, next) => {
      const body = await read(req).catch(next);
      if (body && attach) setRequestBody(req, body);
      next();
    });
    if (parsers.length > 0) application.use(...parsers);
    application.post('/', (req, res) => {
      const r = req as typeof req & { rawBody?: Buffer };
      res.json({ body: req.body ?? null, raw: r.rawBody?.toString('utf8') ?? null });
    });
    served = await serve(application);
    return served.port;
  }

  it('express.json() after a read parses the bytes put back on the stream: it does not hang', async () => {
    const port = await app([express.json()], false);
    expect(JSON.parse((await send(port, json({ a: 1 }))).text)).toEqual({ body: { a: 1 }, raw: null });
  });

  it('express.json(), urlencoded() and text() parse the bytes put back: req.body is theirs, req.rawBody the bytes read', async () => {
    const port = await app([express.json(), express.urlencoded(), express.text()], true);
    expect(JSON.parse((await send(port, json({ b: 2, a: 1 }))).text)).toEqual({
      body: { b: 2, a: 1 },
      raw: '{"b":2,"a":1}',
    });
    const form = await send(port, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=Ada',
    });
    expect(JSON.parse(form.text)).toEqual({ body: { name: 'Ada' }, raw: 'name=Ada' });
    const text = await send(port, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    expect(JSON.parse(text.text)).toEqual({ body: 'hi', raw: 'hi' });
  });

  it('leaves the body it read parsed on req.body, and its bytes on req.rawBody, without a parser', async () => {
    const port = await app([], true);
    expect(JSON.parse((await send(port, json({ a: 1 }))).text)).toEqual({ body: { a: 1 }, raw: '{"a":1}' });
  });
});

describe('requestBodyFailure', () => {
  const zlibError = (extra: object = {}) =>
    Object.assign(new Error('incorrect header check'), { errno: -3, code: 'Z_DATA_ERROR', ...extra });

  /** A request with `headers` whose body was read (`read`) or not. */
  function request(headers: Record<string, string>, read: boolean): http.IncomingMessage {
    const req = new http.IncomingMessage(null as never);
    Object.assign(req.headers, headers);
    if (read) {
      req.push(Buffer.from('not gzip'));
      req.read();
    }
    return req;
  }

  it("is the client's 400 for zlib's error on a read body in a coding it names, and leaves any other error as it is", () => {
    const gzipped = request({ 'content-encoding': 'GZIP' }, true);
    expect(gzipped.readableDidRead).toBe(true);
    const error = zlibError();
    const mapped = requestBodyFailure(gzipped, error);
    expect(isRequestBodyError(mapped)).toBe(true);
    expect(mapped).toMatchObject({ status: 400, code: 'body_invalid', cause: error });
    // brotli's codes are the request's too.
    const brotli = Object.assign(new Error('Decompression failed'), { code: 'ERR__ERROR_FORMAT_PADDING_1' });
    expect(requestBodyFailure(request({ 'content-encoding': 'br' }, true), brotli)).toMatchObject({ status: 400 });
    // An upstream's body that does not decompress: the request's was not compressed, not read, or the error says so.
    for (const [req, e] of [
      [request({}, true), error],
      [request({ 'content-encoding': 'identity' }, true), error],
      [request({ 'content-encoding': 'compress' }, true), error],
      [request({ 'content-encoding': 'gzip' }, false), error],
      [gzipped, zlibError({ isAxiosError: true })],
      [gzipped, zlibError({ response: { status: 200 } })],
      [gzipped, new Error('incorrect header check')],
      [gzipped, null],
    ] as const) {
      expect(requestBodyFailure(req, e)).toBe(e);
    }
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    expect(requestBodyFailure(gzipped, hostile)).toBe(hostile);
  });
});

import http from 'node:http';
import { isConfigurationError } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { type CapturedResponse, responseCapture, UNREPLAYED_HEADERS } from './capture.js';
import { deferred, type Served, send, serve } from './testing/http.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

/** Serves `handler` behind a capture; `captured` resolves with what the capture saw. */
async function capturing(
  handler: http.RequestListener,
  maxBodyBytes?: number,
  onTooLarge?: (res: http.ServerResponse) => void,
) {
  const capture = responseCapture({
    ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }),
    ...(onTooLarge === undefined ? {} : { onTooLarge }),
  });
  const captured = deferred<CapturedResponse | undefined>();
  served = await serve((req, res) => {
    capture(res).then(captured.resolve);
    handler(req, res);
  });
  return { port: served.port, captured: captured.promise };
}

describe('responseCapture', () => {
  it('keeps nothing written after the end (Node sends none of it): the record is what the client got', async () => {
    const { port, captured } = await capturing((_req, res) => {
      res.on('error', () => {}); // Node reports the write after end as an error of the response
      res.end('done');
      res.write('late');
      res.end('again');
    });
    expect((await send(port)).text).toBe('done');
    expect((await captured)?.body.toString()).toBe('done');
  });

  it("captures Express's res.json: status, the headers that matter and the bytes the client got", async () => {
    const app = express();
    app.post('/', (_req, res) => {
      res.set({ 'x-request-id': 'abc', ratelimit: '"default";r=9;t=1', 'x-resource-id': '42' });
      res.status(201).json({ id: 42, name: 'ü' });
    });
    const { port, captured } = await capturing(app);
    const reply = await send(port, { method: 'POST' });
    const capture = await captured;
    expect(capture).toMatchObject({ status: 201, complete: true });
    expect(capture?.body.equals(reply.body)).toBe(true);
    expect(capture?.headers).toEqual({
      'x-powered-by': 'Express',
      'x-resource-id': '42',
      'content-type': 'application/json; charset=utf-8',
      'content-length': reply.headers['content-length'], // a HEAD's record repeats it, core drops any other's
      etag: reply.headers.etag,
    });
  });

  it('captures writeHead headers, strings in any encoding, Buffers and typed arrays, with callbacks kept', async () => {
    const called: string[] = [];
    const { port, captured } = await capturing((_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(202, 'Accepted', ['Content-Type', 'text/plain', 'Location', '/jobs/7']);
      res.write('caf');
      res.write('é', 'latin1', () => called.push('write'));
      res.write(Buffer.from(' ok'));
      res.end(new Uint8Array([33]), () => called.push('end'));
    });
    const reply = await send(port);
    const capture = await captured;
    expect(capture?.status).toBe(202);
    expect(capture?.headers).toEqual({
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'text/plain',
      location: '/jobs/7',
    });
    expect(capture?.body.equals(reply.body)).toBe(true);
    expect(capture?.body).toEqual(Buffer.concat([Buffer.from('caf'), Buffer.from('é', 'latin1'), Buffer.from(' ok!')]));
    expect(called).toEqual(['write', 'end']);
  });

  it('captures headers given as an object to writeHead and a status set before end()', async () => {
    const first = await capturing((_req, res) => res.writeHead(200, { 'Content-Type': 'text/csv' }).end('a,b'));
    await send(first.port);
    expect(await first.captured).toMatchObject({ status: 200, headers: { 'content-type': 'text/csv' } });
    await served?.close();
    const second = await capturing((_req, res) => {
      res.statusCode = 409;
      res.end();
    });
    await send(second.port);
    expect(await second.captured).toMatchObject({ status: 409, body: Buffer.alloc(0), complete: true });
  });

  it('keeps nothing of a writeHead that threw (a header value with a newline): the status and headers are those of the answer that went out', async () => {
    const { port, captured } = await capturing((_req, res) => {
      try {
        res.writeHead(201, { location: '/orders/1\nx' });
      } catch {
        res.statusCode = 500;
        res.setHeader('content-type', 'text/plain');
        res.end('failed');
      }
    });
    const reply = await send(port);
    expect(reply.status).toBe(500);
    expect(await captured).toMatchObject({ status: 500, headers: { 'content-type': 'text/plain' } });
  });

  it('does not keep a streamed body past maxBodyBytes, and says so; the client still gets all of it', async () => {
    const { port, captured } = await capturing((_req, res) => {
      for (let i = 0; i < 10; i++) res.write('0123456789');
      res.end();
    }, 50);
    const reply = await send(port);
    expect(reply.text).toHaveLength(100);
    expect(await captured).toMatchObject({ status: 200, complete: false, body: Buffer.alloc(0) });
  });

  it('says a body will not be kept while a header can still say so: a whole body passed to end()', async () => {
    const { port, captured } = await capturing(
      (_req, res) => res.end('x'.repeat(100)),
      50,
      (res) => res.setHeader('x-not-recorded', String(res.headersSent)),
    );
    const reply = await send(port);
    expect(reply.headers['x-not-recorded']).toBe('false');
    expect(await captured).toMatchObject({ complete: false });
  });

  it('says so from a Content-Length declared to writeHead, before the headers go out', async () => {
    const seen: boolean[] = [];
    const { port, captured } = await capturing(
      (_req, res) => {
        res.writeHead(200, { 'Content-Length': '100' });
        for (let i = 0; i < 10; i++) res.write('0123456789');
        res.end();
      },
      50,
      (res) => {
        seen.push(res.headersSent);
        res.setHeader('x-not-recorded', '1');
      },
    );
    const reply = await send(port);
    expect(reply.headers['x-not-recorded']).toBe('1');
    expect(seen).toEqual([false]);
    expect(await captured).toMatchObject({ complete: false });
  });

  it('says so once, after the headers, for a chunked stream that passes the limit', async () => {
    const seen: boolean[] = [];
    const { port, captured } = await capturing(
      (_req, res) => {
        for (let i = 0; i < 10; i++) res.write('0123456789');
        res.end();
      },
      50,
      (res) => seen.push(res.headersSent),
    );
    await send(port);
    expect(seen).toEqual([true]);
    expect(await captured).toMatchObject({ complete: false });
  });

  it('resolves undefined when the handler never ended the response', async () => {
    const started = deferred();
    const { port, captured } = await capturing((_req, res) => {
      res.write('partial');
      started.resolve();
    });
    const req = http.request({ host: '127.0.0.1', port, agent: false });
    req.on('error', () => {});
    req.end();
    await started.promise;
    req.destroy();
    expect(await captured).toBeUndefined();
  });

  it('resolves undefined at once, without lingering, for a response the server destroyed with an error (a stream that failed mid-body)', async () => {
    const capture = responseCapture({ lingerMs: 60_000, clock: new FakeClock(0) });
    const captured = deferred<CapturedResponse | undefined>();
    served = await serve((_req, res) => {
      capture(res).then(captured.resolve);
      res.write('part');
      // As `stream.pipeline(source, res)` does when the source fails (Koa's respond, say).
      setImmediate(() => res.destroy(new Error('disk failed')));
    });
    await expect(send(served.port)).rejects.toThrow();
    expect(await captured.promise).toBeUndefined();
  });

  it('after the client left, lingers lingerMs for the handler to end the response (onLeft told), then resolves undefined', async () => {
    const clock = new FakeClock(0);
    const left: unknown[] = [];
    const capture = responseCapture({ lingerMs: 1_000, clock, onLeft: (_res, context) => left.push(context) });
    const started = deferred();
    let result: CapturedResponse | undefined | 'pending' = 'pending';
    const closed = deferred();
    served = await serve((_req, res) => {
      capture(res, 'ctx-1').then((r) => {
        result = r;
      });
      res.on('close', () => queueMicrotask(closed.resolve));
      res.write('partial');
      started.resolve();
    });
    const req = http.request({ host: '127.0.0.1', port: served.port, agent: false });
    req.on('error', () => {});
    req.end();
    await started.promise;
    req.destroy();
    await closed.promise;
    expect(left).toEqual(['ctx-1']);
    await clock.advance(999);
    expect(result).toBe('pending');
    await clock.advance(1);
    expect(result).toBeUndefined();
  });

  it('leaves out hop-by-hop and per-response headers, but the length a HEAD record repeats', () => {
    for (const name of ['connection', 'transfer-encoding', 'date', 'retry-after', 'x-request-id']) {
      expect(UNREPLAYED_HEADERS.has(name)).toBe(true);
    }
    expect(UNREPLAYED_HEADERS.has('set-cookie')).toBe(false);
    expect(UNREPLAYED_HEADERS.has('content-length')).toBe(false);
  });

  it('rejects a bad maxBodyBytes, naming it', () => {
    expect(() => responseCapture({ maxBodyBytes: Number.NaN })).toThrow(/maxBodyBytes/);
    let error: unknown;
    try {
      responseCapture({ maxBytes: 1 } as never);
    } catch (e) {
      error = e;
    }
    expect(isConfigurationError(error)).toBe(true);
  });
});

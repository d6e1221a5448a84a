import type http from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { respondOnce } from './respond-once.js';
import { deferred, type Served, send, serve } from './testing/http.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const PROBLEM = {
  status: 503,
  headers: { 'content-type': 'application/problem+json' },
  body: JSON.stringify({ title: 'Request timed out', status: 503 }),
};

/**
 * An Express app whose handler waits for `late` and then answers; `answered` lets the test
 * answer first, as a timeout would. Resolves each late call's outcome in `outcome`.
 */
async function lateHandler(lateWrite: (res: express.Response) => void) {
  const started = deferred<express.Response>();
  const late = deferred();
  const outcome = deferred<unknown>();
  const app = express();
  app.get('/', async (_req, res) => {
    res.setHeader('access-control-allow-origin', '*'); // an earlier middleware's header
    res.setHeader('content-type', 'text/html'); // the handler's, describing a body never sent
    res.on('error', (error) => outcome.resolve(error));
    started.resolve(res);
    await late.promise;
    try {
      lateWrite(res);
      outcome.resolve('no error');
    } catch (error) {
      outcome.resolve(error);
    }
  });
  served = await serve(app);
  return { port: served.port, started: started.promise, late, outcome: outcome.promise };
}

describe('respondOnce', () => {
  it("answers now and swallows the handler's late res.status().json(): nothing written twice, nothing thrown", async () => {
    const { port, started, late, outcome } = await lateHandler((res) => res.status(200).json({ late: true }));
    const reply = send(port);
    expect(respondOnce(await started, PROBLEM)).toBe(true);
    const answer = await reply;
    late.resolve();
    expect(await outcome).toBe('no error');
    expect(answer.status).toBe(503);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    expect(answer.headers['access-control-allow-origin']).toBe('*');
    expect(JSON.parse(answer.text)).toEqual({ title: 'Request timed out', status: 503 });
  });

  it("drops the headers of the handler's body (length, validators, caching) but keeps security and CORS headers", async () => {
    const { port, started, late } = await lateHandler((res) => res.end());
    const reply = send(port);
    const res = await started;
    res.setHeader('content-security-policy', "default-src 'none'"); // helmet's, before the handler
    res.setHeader('content-length', '5000');
    res.setHeader('etag', '"v7"');
    res.setHeader('cache-control', 'public, max-age=3600');
    res.setHeader('expires', 'Thu, 01 Dec 2094 16:00:00 GMT');
    expect(respondOnce(res, PROBLEM)).toBe(true);
    const answer = await reply;
    late.resolve();
    expect(answer.headers['content-security-policy']).toBe("default-src 'none'");
    expect(answer.headers['access-control-allow-origin']).toBe('*');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect([answer.headers.etag, answer.headers.expires]).toEqual([undefined, undefined]);
    expect(answer.headers['content-length']).not.toBe('5000');
    expect(JSON.parse(answer.text)).toEqual({ title: 'Request timed out', status: 503 });
  });

  it("answers with its own status's reason phrase, not the one the handler set for its answer", async () => {
    const { port, started, late } = await lateHandler((res) => res.end());
    const reply = send(port);
    const res = await started;
    res.statusMessage = 'Created';
    expect(respondOnce(res, PROBLEM)).toBe(true);
    const answer = await reply;
    late.resolve();
    expect(`${answer.status} ${answer.statusMessage}`).toBe('503 Service Unavailable');
  });

  it('without it, the same late json() throws "headers already sent" (the failure it prevents)', async () => {
    const { port, started, late, outcome } = await lateHandler((res) => res.status(200).json({ late: true }));
    const reply = send(port);
    (await started).status(503).end();
    await reply;
    late.resolve();
    expect(await outcome).toMatchObject({ code: 'ERR_HTTP_HEADERS_SENT' });
  });

  it('swallows raw late writes and still calls their callbacks', async () => {
    const callbacks: string[] = [];
    const { port, started, late, outcome } = await lateHandler((res) => {
      const raw = res as http.ServerResponse;
      raw.setHeader('x-late', '1');
      raw.removeHeader('content-type');
      raw.writeHead(200, { 'x-late': '2' });
      raw.flushHeaders();
      expect(raw.write('late', () => callbacks.push('write'))).toBe(true);
      raw.end('late', 'utf8', () => callbacks.push('end'));
    });
    const reply = send(port);
    respondOnce(await started, PROBLEM);
    const answer = await reply;
    late.resolve();
    expect(await outcome).toBe('no error');
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    expect(callbacks).toEqual(['write', 'end']);
    expect(answer.headers['x-late']).toBeUndefined();
    expect(answer.status).toBe(503);
  });

  it('writes nothing and returns false once the handler has started its response', async () => {
    const started = deferred<http.ServerResponse>();
    served = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('streaming…');
      started.resolve(res);
    });
    const reply = send(served.port);
    const res = await started.promise;
    expect(respondOnce(res, PROBLEM)).toBe(false);
    res.end(' done');
    expect((await reply).text).toBe('streaming… done');
  });
});

import { Readable } from 'node:stream';
import { FakeClock } from '@resilience/core/testing';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { type CapturedResponse, responseCapture } from './capture.js';
import { lateResponse } from './request-state.js';
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
 * An Express app behind a capture lingering 5 s: its handler sets a Location, waits for
 * `late`, then answers with `lateWrite`. What `finish` and `close` listeners (a logger, a
 * metrics recorder) read of the response is kept in `observed`.
 */
async function timedOutHandler(lateWrite: (res: express.Response) => void) {
  const clock = new FakeClock(0);
  const capture = responseCapture({ lingerMs: 5_000, clock });
  const captured = deferred<CapturedResponse | undefined>();
  const started = deferred<express.Response>();
  const closed = deferred();
  const late = deferred();
  const observed: Array<[string, number, unknown]> = [];
  const app = express();
  app.post('/', async (_req, res) => {
    for (const event of ['finish', 'close']) {
      res.on(event, () => observed.push([event, res.statusCode, res.getHeader('content-type')]));
    }
    res.on('close', () => closed.resolve());
    capture(res).then(captured.resolve);
    res.location('/orders/1');
    started.resolve(res);
    await late.promise;
    lateWrite(res);
  });
  served = await serve(app);
  return { clock, port: served.port, started: started.promise, closed: closed.promise, late, captured, observed };
}

describe('a response answered for its handler (LateResponse)', () => {
  it("the capture records the handler's late res.status().json(), while the wire and the finish/close listeners see the 503", async () => {
    const { port, started, closed, late, captured, observed } = await timedOutHandler((res) =>
      res.status(201).json({ id: 1 }),
    );
    const reply = send(port, { method: 'POST' });
    expect(respondOnce(await started, PROBLEM)).toBe(true);
    const answer = await reply;
    await closed;
    late.resolve();
    const capture = await captured.promise;
    expect([answer.status, answer.headers['content-type'], answer.headers.location]).toEqual([
      503,
      'application/problem+json',
      '/orders/1',
    ]);
    expect(observed).toEqual([
      ['finish', 503, 'application/problem+json'],
      ['close', 503, 'application/problem+json'],
    ]);
    expect(capture).toMatchObject({
      status: 201,
      complete: true,
      headers: { location: '/orders/1', 'content-type': 'application/json; charset=utf-8' },
    });
    expect(JSON.parse(capture!.body.toString())).toEqual({ id: 1 });
  });

  it("a late answer guarded by `if (!res.headersSent)` is given: once the 503 has closed, the handler's head has not gone", async () => {
    const { port, started, closed, late, captured } = await timedOutHandler((res) => {
      if (!res.headersSent) res.status(201).json({ id: 1 });
    });
    const reply = send(port, { method: 'POST' });
    const res = await started;
    respondOnce(res, PROBLEM);
    expect(res.headersSent).toBe(true); // what went out, while it goes out
    await reply;
    await closed;
    late.resolve();
    expect(await captured.promise).toMatchObject({ status: 201, complete: true });
    expect(res.headersSent).toBe(true); // the handler's head, once it has answered
  });

  it("records a late piped stream, chunk by chunk, as the handler's answer", async () => {
    const { port, started, closed, late, captured } = await timedOutHandler((res) => {
      res.status(202).type('text/plain');
      Readable.from(['one,', 'two']).pipe(res);
    });
    const reply = send(port, { method: 'POST' });
    respondOnce(await started, PROBLEM);
    await reply;
    await closed;
    late.resolve();
    const capture = await captured.promise;
    expect([capture?.status, capture?.headers['content-type'], capture?.body.toString()]).toEqual([
      202,
      'text/plain; charset=utf-8',
      'one,two',
    ]);
  });

  it('records nothing for an answer begun before the 503 closed: its reads (Content-Type) saw the 503', async () => {
    const { port, started, late, captured } = await timedOutHandler(() => {});
    const reply = send(port, { method: 'POST' });
    const res = await started;
    respondOnce(res, PROBLEM);
    res.status(201).json({ id: 1 }); // at once: the 503 is still going out
    expect((await reply).status).toBe(503);
    late.resolve();
    expect(await captured.promise).toBeUndefined();
  });

  it('records nothing for a handler that fails, and resolves at once', async () => {
    const { port, started, closed, captured } = await timedOutHandler(() => {});
    const reply = send(port, { method: 'POST' });
    const res = await started;
    respondOnce(res, PROBLEM);
    await reply;
    await closed;
    lateResponse(res)?.failed();
    res.status(201).json({ id: 1 }); // too late: the handler failed
    expect(await captured.promise).toBeUndefined();
  });

  it('waits lingerMs for a handler that never answers, then resolves undefined', async () => {
    const { clock, port, started, captured } = await timedOutHandler(() => {});
    let settled = false;
    void captured.promise.then(() => (settled = true));
    const reply = send(port, { method: 'POST' });
    respondOnce(await started, PROBLEM);
    await reply;
    await clock.advance(4_999);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await captured.promise).toBeUndefined();
  });

  it('tells every observer the handler is done, the capture and another alike; one that comes after, at once', async () => {
    const { port, started, late, captured } = await timedOutHandler((res) => res.status(201).json({ id: 1 }));
    const reply = send(port, { method: 'POST' });
    const res = await started;
    expect(respondOnce(res, PROBLEM)).toBe(true);
    const ends: unknown[] = [];
    lateResponse(res)!.observe({ end: (answer) => ends.push(answer?.status) });
    await reply;
    late.resolve();
    expect((await captured.promise)?.status).toBe(201);
    lateResponse(res)!.observe({ end: (answer) => ends.push(answer) });
    expect(ends).toEqual([201, undefined]);
  });

  it("a wrapper that ends the toolkit's answer later (compression) still sends it whole: reads of `finished` are Node's until it has closed", async () => {
    served = await serve((_req, res) => {
      const write = res.write;
      const end = res.end;
      res.end = function (this: typeof res, chunk?: unknown) {
        this.flushHeaders(); // the head now, the body once it has gone through the wrapper
        setImmediate(() => {
          (write as (chunk: unknown) => boolean).call(res, chunk);
          (end as () => void).call(res);
        });
        return this;
      } as typeof res.end;
      respondOnce(res, PROBLEM);
    });
    const reply = await send(served.port);
    expect([reply.status, reply.text]).toEqual([503, PROBLEM.body]);
  });
});

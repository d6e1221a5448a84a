import type { ServerResponse } from 'node:http';
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { requestSignal } from '../request-state.js';
import { deferred, type Served, send, serve } from '../testing/http.js';
import { errorHandling } from './error-handler.js';
import { loadShedder } from './load-shedding.js';
import { timeoutArm } from './timeout.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const silent = { info() {}, warn() {}, error() {} };

describe('loadShedder, as Express drives it (no promise from the handler)', () => {
  it("frees a timed-out request's slot when its failure reaches the error handler, even before the 503 has closed", async () => {
    const clock = new FakeClock(0);
    const shed = loadShedder<ServerResponse>({ maxConcurrent: 1, clock }, (res, answer) => {
      res.statusCode = answer.status;
      res.end(answer.body);
    });
    const arm = timeoutArm({ ms: 1_000, clock });
    const handling = errorHandling({ logger: silent });
    const entered = deferred();
    const handler = (res: ServerResponse) => {
      if (res.req.url !== '/fails') {
        res.end('ok');
        return;
      }
      const signal = requestSignal(res);
      // It fails as soon as the timeout has answered, before that answer's close.
      signal.addEventListener('abort', () =>
        queueMicrotask(() => handling.answer(res, signal.reason, { route: undefined, recorded: false })),
      );
      entered.resolve();
    };
    served = await serve((_req, res) => {
      void shed(res, () => arm(res, () => handler(res)), res);
    });
    const failing = send(served.port, { path: '/fails' });
    await entered.promise;
    await clock.advance(1_000);
    expect((await failing).status).toBe(503);
    expect((await send(served.port)).status).toBe(200);
  });

  it('frees the slot at once of a response the server destroyed with an error (a stream that failed mid-body), without waiting abandonedHoldMs', async () => {
    const clock = new FakeClock(0);
    const shed = loadShedder<ServerResponse>({ maxConcurrent: 1, abandonedHoldMs: 60_000, clock }, (res, answer) => {
      res.statusCode = answer.status;
      res.end(answer.body);
    });
    const handler = (res: ServerResponse) => {
      if (res.req.url !== '/fails') {
        res.end('ok');
        return;
      }
      res.write('part');
      // As `stream.pipeline(source, res)` does when the source fails.
      setImmediate(() => res.destroy(new Error('disk failed')));
    };
    served = await serve((_req, res) => {
      void shed(res, () => handler(res), res);
    });
    await expect(send(served.port, { path: '/fails' })).rejects.toThrow();
    expect((await send(served.port)).status).toBe(200);
  });
});

describe('loadShedder options', () => {
  const refuse = () => {};

  it('refuses a maxQueueMs without a queue: no request ever waits, so it would bound nothing', () => {
    expect(() => loadShedder({ maxConcurrent: 10, maxQueueMs: 500 }, refuse)).toThrow(
      'Invalid loadShedding options: maxQueueMs: received 500, expected nothing without a queue (queue is 0: no request waits)',
    );
    expect(() => loadShedder({ maxConcurrent: 10, queue: 0, maxQueueMs: 500 }, refuse)).toThrow(/maxQueueMs/);
    // One issue for a bad queue, not a second for maxQueueMs.
    expect(() => loadShedder({ maxConcurrent: 10, queue: -1, maxQueueMs: 500 }, refuse)).toThrow(
      /^Invalid loadShedding options: queue: received -1, expected an integer >= 0$/,
    );
    expect(() => loadShedder({ maxConcurrent: 10, queue: 5, maxQueueMs: 500 }, refuse)).not.toThrow();
  });
});

// Express shows a handler's end only as its `res.end`: what loadShedding holds for a handler
// whose client left, and how long (the conformance suite covers what both adapters share).
import { ConfigurationError } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { abandonedRequest } from '@resilience/http-conformance';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, type Served, send, serve } from '../../node-server/src/testing/http.js';
import { errorHandler, loadShedding, requestSignal } from './index.js';

let served: Served | undefined;
afterEach(() => served?.close());

/** An app of one slot whose first request's handler `first` runs after its client has left. */
async function oneSlot(clock: FakeClock, first: (res: express.Response) => void) {
  const entered = deferred();
  const left = deferred();
  let runs = 0;
  const app = express();
  app.use(loadShedding({ maxConcurrent: 1, abandonedHoldMs: 5_000, clock }));
  app.get('/', (req, res) => {
    if (++runs > 1) {
      res.json({ ok: true });
      return;
    }
    requestSignal(req).addEventListener('abort', () => {
      left.resolve();
      first(res);
    });
    entered.resolve();
  });
  served = await serve(app);
  const port = served.port;
  await abandonedRequest(port, { path: '/' }, entered.promise);
  await left.promise;
  return { status: async () => (await send(port)).status, runs: () => runs };
}

describe('loadShedding on Express, after a client left', () => {
  it('holds the slot of a handler that gives up without answering for abandonedHoldMs, then frees it', async () => {
    const clock = new FakeClock(0);
    const app = await oneSlot(clock, () => {}); // returns: never ends the response
    expect(await app.status()).toBe(503);
    await clock.advance(4_999);
    expect(await app.status()).toBe(503);
    await clock.advance(1);
    expect(await app.status()).toBe(200);
    expect(app.runs()).toBe(2);
  });

  it('frees the slot when the handler ends the response, and keeps no timer for it', async () => {
    const clock = new FakeClock(0);
    const late = deferred();
    const app = await oneSlot(clock, (res) => void late.promise.then(() => res.json({ late: true })));
    expect(await app.status()).toBe(503);
    expect(clock.pendingTimers).toBe(1);
    late.resolve();
    expect(await app.status()).toBe(200);
    expect(clock.pendingTimers).toBe(0);
  });

  it('frees the slot of a handler that fails mid-stream at once: errorHandler cut its response off, it is done', async () => {
    const clock = new FakeClock(0);
    const app = express();
    app.use(loadShedding({ maxConcurrent: 1, clock }));
    app.get('/stream', (_req, res, next) => {
      res.write('first,');
      next(new Error('the source failed'));
    });
    app.get('/', (_req, res) => void res.json({ ok: true }));
    app.use(errorHandler({ logger: { info() {}, warn() {}, error() {} } }));
    served = await serve(app);
    await expect(send(served.port, { path: '/stream' })).rejects.toThrow();
    expect((await send(served.port)).status).toBe(200);
    expect(clock.pendingTimers).toBe(0);
  });

  it('takes a positive abandonedHoldMs and rejects any other, naming it', () => {
    expect(() => loadShedding({ maxConcurrent: 1, abandonedHoldMs: 1 })).not.toThrow();
    for (const abandonedHoldMs of [0, -1, Number.POSITIVE_INFINITY, '5s']) {
      expect(() => loadShedding({ maxConcurrent: 1, abandonedHoldMs: abandonedHoldMs as number })).toThrow(
        ConfigurationError,
      );
      expect(() => loadShedding({ maxConcurrent: 1, abandonedHoldMs: abandonedHoldMs as number })).toThrow(
        /abandonedHoldMs/,
      );
    }
  });
});

describe('loadShedding with a logger that throws', () => {
  it('still answers the shed request 503, and nothing escapes as an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (error: unknown) => unhandled.push(error);
    process.on('unhandledRejection', onUnhandled);
    try {
      const broken = () => {
        throw new Error('log sink down');
      };
      const release = deferred();
      const entered = deferred();
      const app = express();
      app.use(loadShedding({ maxConcurrent: 1 }));
      app.get('/', async (_req, res) => {
        entered.resolve();
        await release.promise;
        res.send('ok');
      });
      app.use(errorHandler({ logger: { info: broken, warn: broken, error: broken } }));
      served = await serve(app);
      const first = send(served.port);
      await entered.promise;
      expect((await send(served.port)).status).toBe(503);
      release.resolve();
      expect((await first).status).toBe(200);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

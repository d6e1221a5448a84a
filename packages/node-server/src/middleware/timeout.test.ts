import { AsyncLocalStorage } from 'node:async_hooks';
import { onHttpDecision } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { requestSignal } from '../request-state.js';
import { deferred, type Served, send, serve } from '../testing/http.js';
import { timeoutArm } from './timeout.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

describe('timeoutArm', () => {
  it("tells each timed-out request's decision in that request's async context, whoever armed the shared timer", async () => {
    const clock = new FakeClock(0);
    const als = new AsyncLocalStorage<string>();
    const arm = timeoutArm({ ms: 1_000, clock });
    const heard: Array<string | undefined> = [];
    const stop = onHttpDecision(() => heard.push(als.getStore()));
    const entered = [deferred(), deferred()];
    try {
      served = await serve((req, res) => {
        als.run(req.url ?? '', () => {
          arm(res, () => undefined); // the handler never answers
          entered[req.url === '/a' ? 0 : 1]!.resolve();
        });
      });
      const replies = [send(served.port, { path: '/a' }), send(served.port, { path: '/b' })];
      await Promise.all(entered.map((e) => e.promise));
      // The clock is driven from outside both requests: only the deadlines carry their contexts.
      await clock.advance(1_000);
      expect((await Promise.all(replies)).map((r) => r.status)).toEqual([503, 503]);
      expect(heard.sort()).toEqual(['/a', '/b']);
    } finally {
      stop();
    }
  });

  it('answers 503 before the signal aborts: a handler that answers from its abort listener at once gives a late answer, not the client’s', async () => {
    const clock = new FakeClock(0);
    const arm = timeoutArm({ ms: 1_000, clock });
    const entered = deferred();
    served = await serve((_req, res) => {
      arm(res, () => {
        requestSignal(res).addEventListener('abort', () => {
          res.statusCode = 201;
          res.end('{"late":true}');
        });
        entered.resolve();
      });
    });
    const reply = send(served.port);
    await entered.promise;
    await clock.advance(1_000);
    const { status, text } = await reply;
    expect(status).toBe(503);
    expect(JSON.parse(text)).toMatchObject({ code: 'request_timeout' });
  });
});

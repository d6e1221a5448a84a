import { FakeClock } from '@resilience/core/testing';
import { expect } from 'vitest';
import { deferred, type Served } from '../context.js';
import { type Context, counter, retryPast409, type Scenario } from '../scenario.js';

const KEY = '"c0ffee00-40d5-43e8-bc93-6894a57f9324"';
const post: RequestInit = {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'idempotency-key': KEY },
  body: '{"item":"book"}',
};
const ORDERS = ['idempotency before timeout', 'timeout before idempotency'] as const;

/**
 * An app with `idempotency` and `timeout({ ms: 1_000 })` in `order`, whose POST /orders runs
 * `handler` (its first run waits for `release`); `timedOut()` sends the first request, lets
 * the timeout answer it and resolves with that answer.
 */
async function timedOutApp(
  t: Context,
  order: (typeof ORDERS)[number],
  first: (release: Promise<void>) => Promise<{ status: number; json: unknown; headers?: Record<string, string> }>,
  options: { lockTimeoutMs?: number } = {},
) {
  const clock = new FakeClock(0);
  const runs = counter();
  const entered = deferred();
  const release = deferred();
  const idempotency = t.m.idempotency({ clock, logger: t.logger(), ...options });
  const timeout = t.m.timeout({ ms: 1_000, clock });
  const app: Served = await t.serve([
    t.m.errorHandler({ logger: t.logger() }),
    ...(order === ORDERS[0] ? [idempotency, timeout] : [timeout, idempotency]),
    t.m.route('POST', '/orders', async () => {
      runs.add();
      if (runs.runs > 1) return { status: 201, json: { charged: runs.runs } };
      entered.resolve();
      return first(release.promise);
    }),
  ]);
  const timedOut = async () => {
    const answer = app.fetch('/orders', post);
    await entered.promise;
    await clock.advance(1_000);
    return answer;
  };
  /** Retries until the key is no longer held (each retry is answered at once: 409, a replay or a run). */
  const retryUntilFree = async () => {
    let res = await app.fetch('/orders', post);
    for (let i = 0; i < 50 && res.status === 409; i++) res = await app.fetch('/orders', post);
    return res;
  };
  return { app, clock, runs, release, timedOut, retryUntilFree };
}

const deadlineBeforeClaim: Scenario = {
  area: 'idempotency',
  name: 'with timeout before it: a request whose deadline passes before its key is claimed (a slow scope or store) runs once, and a retry gets that run replayed',
  async run(t) {
    const clock = new FakeClock(0);
    const asked = deferred();
    const slow = deferred();
    const ran = deferred();
    const runs = counter();
    const app = await t.serve([
      t.m.errorHandler({ logger: t.logger() }),
      t.m.timeout({ ms: 1_000, clock }),
      t.m.idempotency({
        clock,
        logger: t.logger(),
        scope: async () => {
          asked.resolve();
          await slow.promise;
          return 'user-1';
        },
      }),
      t.m.route('POST', '/orders', () => {
        ran.resolve();
        return runs.add({ status: 201, json: { charged: runs.runs + 1 } });
      }),
    ]);
    const first = app.fetch('/orders', post);
    await asked.promise;
    await clock.advance(1_000);
    expect((await first).status).toBe(503);
    slow.resolve();
    await ran.promise;
    const retried = await retryPast409(app, '/orders', post);
    expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
    expect(await retried.json()).toEqual({ charged: 1 });
    expect(runs.runs).toBe(1);
  },
};

export const idempotencyTimeoutScenarios: Scenario[] = [
  ...ORDERS.flatMap((order): Scenario[] => [
    {
      area: 'idempotency',
      name: `with timeout (${order}): the key stays held (409) while the timed-out handler runs, then its own answer is replayed, never a second run`,
      async run(t) {
        const { app, runs, release, timedOut, retryUntilFree } = await timedOutApp(t, order, async (release) => {
          await release;
          return { status: 201, headers: { location: '/orders/1' }, json: { charged: 1 } };
        });
        const answer = await timedOut();
        expect(answer.status).toBe(503);
        await answer.arrayBuffer();
        expect((await app.fetch('/orders', post)).status).toBe(409);
        release.resolve();
        const retried = await retryUntilFree();
        expect([retried.status, retried.headers.get('idempotent-replayed'), retried.headers.get('location')]).toEqual([
          201,
          'true',
          '/orders/1',
        ]);
        expect(retried.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await retried.json()).toEqual({ charged: 1 });
        expect(runs.runs).toBe(1);
      },
    },
    {
      area: 'idempotency',
      name: `with timeout (${order}): a timed-out handler that then fails frees the key when it fails, and a retry runs`,
      async run(t) {
        const { app, runs, release, timedOut, retryUntilFree } = await timedOutApp(t, order, async (release) => {
          await release;
          throw new Error('payment provider down');
        });
        expect((await timedOut()).status).toBe(503);
        expect((await app.fetch('/orders', post)).status).toBe(409);
        release.resolve();
        const retried = await retryUntilFree();
        expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([201, null]);
        expect(await retried.json()).toEqual({ charged: 2 });
        expect(runs.runs).toBe(2);
      },
    },
    {
      area: 'idempotency',
      name: `with timeout (${order}): a timed-out handler setting a header value Node refuses (a line break) fails as it would in time: the key is freed, a retry runs`,
      async run(t) {
        const { runs, release, timedOut, retryUntilFree } = await timedOutApp(t, order, async (release) => {
          await release;
          return { status: 201, json: { charged: 1 }, headers: { location: '/orders/1\r\nSet-Cookie: a=1' } };
        });
        expect((await timedOut()).status).toBe(503);
        release.resolve();
        const retried = await retryUntilFree();
        expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([201, null]);
        expect(retried.headers.get('set-cookie')).toBeNull();
        expect(await retried.json()).toEqual({ charged: 2 });
        expect(runs.runs).toBe(2);
      },
    },
    {
      area: 'idempotency',
      name: `with timeout (${order}): a timed-out handler that never answers holds the key for lockTimeoutMs, then a retry runs`,
      async run(t) {
        const { app, clock, runs, timedOut } = await timedOutApp(t, order, () => new Promise(() => {}), {
          lockTimeoutMs: 5_000,
        });
        expect((await timedOut()).status).toBe(503);
        await clock.advance(3_999);
        expect((await app.fetch('/orders', post)).status).toBe(409);
        await clock.advance(1);
        const retried = await app.fetch('/orders', post);
        expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([201, null]);
        expect(runs.runs).toBe(2);
      },
    },
  ]),
  deadlineBeforeClaim,
];

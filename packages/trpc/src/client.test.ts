import { getEventListeners } from 'node:events';
import type { IncomingMessage } from 'node:http';
import {
  BrokenCircuitError,
  backoff,
  type Clock,
  ConfigurationError,
  consecutive,
  countWindow,
  RateLimitExceededError,
  rateLimiter,
  resilienceDetails,
  TimeoutError,
  tokenBucket,
} from '@resilience/core';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import {
  createTRPCClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  type Operation,
  TRPCClientError,
  type TRPCLink,
} from '@trpc/client';
import { type AnyRouter, initTRPC, TRPCError } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { afterEach, describe, expect, it } from 'vitest';
import { drive, until } from '../../fetch/src/testing/server.js';
import { circuitBreakerLink, rateLimitLink, retryLink, timeoutLink } from './client.js';
import { errorFormatter, rateLimitMiddleware, responseMeta } from './server.js';
import { failure } from './testing/failure.js';
import { startServer, type TestServer } from './testing/server.js';

type Outcome = 'ok' | 'unavailable' | 'bad' | 'limited' | 'drop' | 'garbage' | 'hang' | 'late';

/** The server's script: each call of a procedure takes the next outcome (then 'ok'); counts what reached it. */
let outcomes: Outcome[] = [];
let calls: Record<string, number> = {};
let requests = 0;
let aborted = 0;
/** Answers the call held by a 'late' outcome, which does not hear its signal. */
let answerLate = () => {};
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  outcomes = [];
  calls = {};
  requests = 0;
  aborted = 0;
});

function routerFor(clock: FakeClock, formatted = true) {
  const t = initTRPC.context<{ req: IncomingMessage }>().create(formatted ? { errorFormatter: errorFormatter() } : {});
  const scripted = t.procedure.use(({ path, ctx, signal, next }) => {
    calls[path] = (calls[path] ?? 0) + 1;
    const outcome = outcomes.shift() ?? 'ok';
    if (outcome === 'unavailable') throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'down' });
    if (outcome === 'bad') throw new TRPCError({ code: 'BAD_REQUEST', message: 'no such item' });
    if (outcome === 'limited') throw new TRPCError({ code: 'TOO_MANY_REQUESTS' });
    if (outcome === 'drop') {
      ctx.req.socket.destroy();
      return new Promise<never>(() => {});
    }
    if (outcome === 'garbage') {
      ctx.req.socket.end('HELLO\r\n\r\n'); // bytes that are no HTTP: a proxy answering garbage
      return new Promise<never>(() => {});
    }
    if (outcome === 'late') return new Promise<void>((resolve) => (answerLate = resolve)).then(() => next());
    if (outcome === 'hang') {
      return new Promise<never>((_, reject) =>
        signal!.addEventListener('abort', () => {
          aborted++;
          reject(new Error('aborted'));
        }),
      );
    }
    return next();
  });
  const quota = rateLimiter({ name: 'api', algorithm: tokenBucket({ capacity: 1, refillPerSecond: 0.5 }), clock });
  return t.router({
    items: scripted.query(() => ['a', 'b']),
    other: scripted.query(() => 'other'),
    create: scripted
      .input((raw) => raw as { item: number; idempotencyKey?: string })
      .mutation(({ input }) => ({ created: input.item })),
    limited: t.procedure
      .use(rateLimitMiddleware({ limiter: quota, key: () => 'everyone', clock }))
      .query(() => 'admitted'),
  });
}

type AppRouter = ReturnType<typeof routerFor>;

async function setup(links: (url: string) => TRPCLink<AppRouter>[], clock: FakeClock, formatted = true) {
  server = await startServer({
    router: routerFor(clock, formatted),
    createContext: ({ req }) => {
      requests++;
      return { req };
    },
    responseMeta: responseMeta(),
  });
  return createTRPCClient<AppRouter>({ links: links(server.url) });
}

/** Resolves once a policy waits on the fake clock (a retry's backoff, a limiter, a breaker). */
const waiting = (clock: FakeClock) => until(() => clock.pendingTimers > 0, 'a wait on the clock');

/** A retry budget with one retry left, counting the retries taken from it and given back. */
function oneRetryLeft() {
  const budget = {
    taken: 0,
    given: 0,
    recordCall() {},
    tryRetry: () => ++budget.taken === 1,
    release: () => budget.given++,
  };
  return budget;
}

describe('retryLink against a real tRPC server', () => {
  /** retryLink (on `budget` when given) before `inner` links, by default one httpLink. */
  const retrying =
    (clock: FakeClock, budget?: ReturnType<typeof oneRetryLeft>, ...inner: ((url: string) => TRPCLink<AppRouter>)[]) =>
    (url: string) => [
      retryLink<AppRouter>({ retry: { clock, random: sequenceRandom(0), ...(budget && { budget: budget as never }) } }),
      ...(inner.length > 0 ? inner.map((link) => link(url)) : [httpLink({ url })]),
    ];

  it('retries a query the server could not answer (503), then resolves', async () => {
    const clock = new FakeClock();
    const client = await setup(retrying(clock), clock);
    outcomes = ['unavailable'];
    const pending = client.items.query();
    await waiting(clock);
    await clock.advance(100);
    expect(await pending).toEqual(['a', 'b']);
    expect(calls.items).toBe(2);
  });

  it('retries a dropped connection', async () => {
    const clock = new FakeClock();
    const client = await setup(retrying(clock), clock);
    outcomes = ['drop'];
    const pending = client.items.query();
    await waiting(clock);
    await clock.advance(100);
    expect(await pending).toEqual(['a', 'b']);
    expect(calls.items).toBe(2);
  });

  it.each([
    ['data.retryAfterMs (errorFormatter)', true],
    ['the Retry-After header alone (responseMeta)', false],
  ])('waits as long as the server asks: %s', async (_, formatted) => {
    const clock = new FakeClock();
    const client = await setup(retrying(clock), clock, formatted);
    expect(await client.limited.query()).toBe('admitted');
    const pending = client.limited.query(); // refused: the bucket refills in 2 s
    await waiting(clock);
    expect(requests).toBe(2);
    await clock.advance(1_999);
    expect(requests).toBe(2);
    await clock.advance(1);
    expect(await pending).toBe('admitted');
    expect(requests).toBe(3);
  });

  it('retries only the failed query of a batch (its own status, not the batch’s 207)', async () => {
    const clock = new FakeClock();
    const client = await setup(
      (url) => [retryLink({ retry: { clock, random: sequenceRandom(0) } }), httpBatchLink({ url })],
      clock,
    );
    outcomes = ['unavailable', 'ok'];
    const both = Promise.all([client.items.query(), client.other.query()]);
    await waiting(clock);
    await clock.advance(100);
    expect(await both).toEqual([['a', 'b'], 'other']);
    expect(calls).toEqual({ items: 2, other: 1 });
  });

  it('sends the retries of a batch that failed whole as one batch again, as tRPC’s own retryLink does, though each call draws its full jitter', async () => {
    // The retries' timers, held and fired together in one turn, as Node fires timers due at
    // the same time (FakeClock lets a real tick pass between two, in which httpBatchLink may
    // send a batch of one).
    const timers: Array<{ ms: number; fire: () => void }> = [];
    const held: Clock = {
      now: () => 0,
      setTimeout(fire, ms) {
        const timer = { ms, fire };
        timers.push(timer);
        return timer;
      },
      clearTimeout: (timer) => void timers.splice(timers.indexOf(timer as (typeof timers)[0]) >>> 0, 1),
      sleep: (ms) => new Promise((resolve) => held.setTimeout(resolve, ms)),
    };
    const client = await setup(
      (url) => [retryLink({ retry: { clock: held, random: sequenceRandom(0.1, 0.5, 0.9) } }), httpBatchLink({ url })],
      new FakeClock(),
    );
    outcomes = ['unavailable', 'unavailable', 'unavailable'];
    const all = Promise.all([client.items.query(), client.other.query(), client.items.query()]);
    await until(() => timers.length === 3, 'the three retries to wait');
    expect(requests).toBe(1);
    // One draw for the three (10 ms of 100): before, 10, 50 and 90 ms, each call its own request.
    expect(timers.map((t) => t.ms)).toEqual([10, 10, 10]);
    for (const timer of timers.splice(0)) timer.fire();
    expect(await all).toEqual([['a', 'b'], 'other', ['a', 'b']]);
    expect([requests, calls]).toEqual([2, { items: 4, other: 2 }]);
  });

  it('retries every call of a batch that failed whole, within the default budget: one request failed, one goes out again', async () => {
    // Before, each call was granted alone: the default budget (ten retries a window, plus 10 % of
    // the calls) retried 12 of these 20, and 8 of the page's calls failed with the 503 of one request.
    const clock = new FakeClock();
    const client = await setup(
      (url) => [retryLink({ retry: { clock, random: sequenceRandom(0) } }), httpBatchLink({ url, maxItems: 20 })],
      clock,
    );
    outcomes = Array.from({ length: 20 }, () => 'unavailable' as const);
    const all = Promise.allSettled(Array.from({ length: 20 }, () => client.items.query()));
    const refused = (await drive(clock, all)).filter((r) => r.status === 'rejected');
    expect([refused.length, calls.items]).toEqual([0, 40]);
  });

  it('grants or refuses the calls of a failed batch as one, each taking a retry', async () => {
    // One retry left: the batch's first call takes it, and the batch goes out whole; then a
    // failed batch is refused whole, its first call finding the budget spent.
    const budget = oneRetryLeft();
    const clock = new FakeClock();
    const client = await setup(
      retrying(clock, budget, (url) => httpBatchLink({ url })),
      clock,
    );
    for (const [status, taken, sent] of [
      ['fulfilled', 3, 6],
      ['rejected', 4, 3],
    ] as const) {
      outcomes = ['unavailable', 'unavailable', 'unavailable'];
      calls = {};
      const all = await drive(clock, Promise.allSettled([1, 2, 3].map(() => client.items.query())));
      expect([...new Set(all.map((r) => r.status)), budget.taken, calls.items]).toEqual([status, taken, sent]);
    }
    expect(budget.given).toBe(0);
  });

  it('grants or refuses separate requests (httpLink) that time out in one millisecond each alone', async () => {
    // Their timeouts share nothing that tells them from a batch's: granted as one, a storm of
    // separate calls timing out together would pass a budget that has one retry left.
    const budget = oneRetryLeft();
    const clock = new FakeClock();
    const client = await setup(
      retrying(
        clock,
        budget,
        () => timeoutLink({ ms: 1_000, clock }),
        (url) => httpLink({ url }),
      ),
      clock,
    );
    outcomes = ['hang', 'hang', 'hang', 'hang'];
    let refused = 0;
    const all = Promise.all([1, 2, 3].map(() => client.items.query().catch(() => refused++)));
    await until(() => calls.items === 3, 'the three requests to reach the server');
    await clock.advance(1_000); // all three time out in one millisecond: one retry left
    await until(() => (calls.items ?? 0) + refused === 6, 'each call retried or refused');
    expect([refused, calls.items]).toEqual([2, 4]);
    await clock.advance(1_000); // the retried call times out again, and the budget is spent
    await all;
    expect([refused, budget.taken]).toEqual([3, 4]);
  });

  it('refuses the retries of separate requests (httpLink) each alone, once the budget is spent', async () => {
    const clock = new FakeClock();
    const client = await setup(retrying(clock), clock);
    outcomes = Array.from({ length: 20 }, () => 'unavailable' as const);
    const all = Promise.allSettled(Array.from({ length: 20 }, () => client.items.query()));
    const refused = (await drive(clock, all)).filter((r) => r.status === 'rejected');
    expect([refused.length, requests]).toEqual([8, 32]); // 10 + 10 % of 20 retried
  });

  it('gives back to the budget, when its caller leaves during the wait, only a retry the call took', async () => {
    const budget = oneRetryLeft();
    const clock = new FakeClock();
    const client = await setup(
      retrying(clock, budget, (url) => httpBatchLink({ url })),
      clock,
    );
    const callers = [1, 2, 3].map(() => new AbortController());
    outcomes = ['unavailable', 'unavailable', 'unavailable'];
    const all = Promise.allSettled(callers.map(({ signal }) => client.items.query(undefined, { signal })));
    await waiting(clock);
    for (const caller of callers) caller.abort();
    await drive(clock, all);
    expect([budget.taken, budget.given, calls.items]).toEqual([3, 1, 3]);
  });

  it('sends a mutation once, unless its input or its context carries an idempotency key', async () => {
    const clock = new FakeClock();
    const client = await setup(retrying(clock), clock);
    outcomes = ['unavailable'];
    const error = await failure(client.create.mutate({ item: 1 }));
    expect(error.data?.httpStatus).toBe(503);
    expect(calls.create).toBe(1);

    for (const call of [
      () => client.create.mutate({ item: 2, idempotencyKey: 'order-2' }),
      () => client.create.mutate({ item: 3 }, { context: { idempotencyKey: 'order-3' } }),
    ]) {
      outcomes = ['unavailable'];
      calls = {};
      const pending = call();
      await waiting(clock);
      await clock.advance(100);
      await pending;
      expect(calls.create).toBe(2);
    }
  });

  /** Four 503s for one query, the backoff's waits (100, 200, 400 ms) passed on the clock: the error. */
  async function givenUp(clock: FakeClock, client: Awaited<ReturnType<typeof setup>>) {
    outcomes = ['unavailable', 'unavailable', 'unavailable', 'unavailable'];
    const pending = failure(client.items.query());
    for (const wait of [100, 200, 400]) {
      await waiting(clock);
      await clock.advance(wait);
    }
    return pending;
  }

  it('gives up after 4 attempts with the last TRPCClientError, as the server shaped it', async () => {
    const clock = new FakeClock();
    const error = await givenUp(clock, await setup(retrying(clock), clock));
    expect(error.name).toBe('TRPCClientError');
    expect(error.data).toMatchObject({ code: 'SERVICE_UNAVAILABLE', httpStatus: 503 });
    expect(calls.items).toBe(4);
  });

  it('gives the error the whole operation’s resilience details, not a breaker link’s last attempt', async () => {
    const clock = new FakeClock();
    const client = await setup(
      (url) => [
        retryLink<AppRouter>({ retry: { clock, random: sequenceRandom(0.5) } }),
        circuitBreakerLink<AppRouter>({ breaker: { strategy: consecutive(10) }, clock }),
        httpLink({ url }),
      ],
      clock,
    );
    const error = await givenUp(clock, client);
    // The backoff's full jitter, each draw 0.5: 50 + 100 + 200 ms.
    expect(resilienceDetails(error)).toEqual({ host: 'items', attempts: 4, totalDelayMs: 350, breakerState: 'closed' });
  });

  it('points a signal in any link’s options to the call, where tRPC takes one', () => {
    const signal = new AbortController().signal;
    const where = 'expected nothing here (a signal cancels one call: client.path.query(input, { signal }))';
    const cases: Array<[() => unknown, string]> = [
      [() => retryLink({ retry: { signal } as never }), 'retryLink options: retry.signal'],
      [() => retryLink({ signal } as never), 'retryLink options: signal'],
      [() => circuitBreakerLink({ breaker: { signal } as never }), 'circuitBreakerLink options: breaker.signal'],
      [() => timeoutLink({ ms: 10, signal } as never), 'timeoutLink options: signal'],
      [
        () =>
          rateLimitLink({
            limiter: rateLimiter({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }) }),
            signal,
          } as never),
        'rateLimitLink options: signal',
      ],
    ];
    for (const [make, option] of cases) {
      expect(make).toThrow(`${option}: received an AbortSignal, ${where}`);
      expect(make).not.toThrow(/execute\(fn, signal\)/);
    }
  });

  it('rejects options it does not know, naming them', () => {
    expect(() => retryLink({ retries: 3 } as never)).toThrow(ConfigurationError);
    expect(() => retryLink({ retry: { maxAttempts: 0 } })).toThrow(
      'Invalid retryLink options: retry.maxAttempts: received 0',
    );
    // null is no budget's options: named, not taken for the defaults
    expect(() => retryLink({ retry: { budget: null as never } })).toThrow(/budget: received null/);
    // null is no options: named, not a TypeError from reading it
    expect(() => retryLink(null as never)).toThrow('Invalid retryLink options: options: received null');
  });
});

describe('retryLink over a link of ours that refuses the retry', () => {
  // Before, the caller got our refusal (a TRPCClientError whose cause was ours), the server's answer dropped.
  it('the rate limit (past maxWaitMs): the server’s TOO_MANY_REQUESTS, not our RateLimitExceededError', async () => {
    const clock = new FakeClock();
    const quota = rateLimiter({
      algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 / 60 }),
      clock,
      maxWaitMs: 0,
    });
    const client = await setup(
      (url) => [
        retryLink<AppRouter>({ retry: { clock, random: sequenceRandom(0) } }),
        rateLimitLink({ limiter: quota }),
        httpLink({ url }),
      ],
      clock,
    );
    outcomes = ['limited'];
    const error = (await drive(clock, failure(client.items.query()))) as TRPCClientError<AppRouter>;
    expect([error.data?.code, error.cause instanceof RateLimitExceededError]).toEqual(['TOO_MANY_REQUESTS', false]);
    expect(resilienceDetails(error)).toMatchObject({ attempts: 2 });
    expect(calls).toEqual({ items: 1 });
  });

  it('the breaker the failure opened: the server’s SERVICE_UNAVAILABLE, not our BrokenCircuitError', async () => {
    const clock = new FakeClock();
    const client = await setup(
      (url) => [
        retryLink<AppRouter>({ retry: { clock, random: sequenceRandom(0) } }),
        circuitBreakerLink({ breaker: { strategy: consecutive(1) }, clock }),
        httpLink({ url }),
      ],
      clock,
    );
    outcomes = ['unavailable'];
    const error = (await drive(clock, failure(client.items.query()))) as TRPCClientError<AppRouter>;
    expect([error.data?.code, error.message]).toEqual(['SERVICE_UNAVAILABLE', 'down']);
    expect(calls).toEqual({ items: 1 });
    // The next call is refused: nothing went out, so our refusal is the answer.
    expect((await failure(client.items.query())).cause).toBeInstanceOf(BrokenCircuitError);
  });
});

describe('circuitBreakerLink against a real tRPC server', () => {
  it('keeps a breaker per procedure: opens, sends nothing while open, probes once, closes', async () => {
    const clock = new FakeClock();
    const breakers = circuitBreakerLink<AppRouter>({
      breaker: { strategy: consecutive(3), halfOpenAfter: 30_000 },
      clock,
    });
    const client = await setup((url) => [breakers, httpLink({ url })], clock);
    outcomes = ['unavailable', 'unavailable', 'unavailable'];
    for (let i = 0; i < 3; i++) expect((await failure(client.items.query())).data?.httpStatus).toBe(503);
    const refused = await failure(client.items.query());
    expect(refused.cause).toBeInstanceOf(BrokenCircuitError);
    expect(calls.items).toBe(3); // nothing sent while open
    expect(await client.other.query()).toBe('other'); // another procedure, another breaker
    await clock.advance(30_000);
    const probe = client.items.query();
    const second = failure(client.items.query()); // half-open: one probe only
    expect((await second).cause).toBeInstanceOf(BrokenCircuitError);
    expect(await probe).toEqual(['a', 'b']);
    expect(breakers.client.host('items')?.breaker?.state).toBe('closed');
    expect(breakers.client.host('items')?.breaker?.name).toBe('trpc:items');
    expect(calls.items).toBe(4);
  });

  it('counts each operation of a batch that failed as a whole: the breaker counts calls, not HTTP requests', async () => {
    // One connection dropped under httpBatchLink fails its three queries: three failed calls of
    // `items`, as three httpLink requests failing at once would be. (A batch's operations have
    // their own outcomes too: one may fail in a 207 while the others succeed, and is counted alone.)
    const clock = new FakeClock();
    const breakers = circuitBreakerLink<AppRouter>({ breaker: { strategy: consecutive(3) }, clock });
    const client = await setup((url) => [breakers, httpBatchLink({ url })], clock);
    outcomes = ['drop'];
    const batch = await Promise.all([1, 2, 3].map(() => failure(client.items.query())));
    expect(batch.map((error) => error.cause).every((cause) => cause === batch[0]!.cause)).toBe(true); // one failure
    expect(requests).toBe(1);
    expect(breakers.client.host('items')?.breaker?.state).toBe('open');
  });

  it('counts a 4xx answer as the server working', async () => {
    const clock = new FakeClock();
    const breakers = circuitBreakerLink<AppRouter>({ breaker: { strategy: consecutive(1) }, clock });
    const client = await setup((url) => [breakers, httpLink({ url })], clock);
    outcomes = ['bad', 'bad'];
    for (let i = 0; i < 2; i++) expect((await failure(client.items.query())).data?.httpStatus).toBe(400);
    expect(breakers.client.host('items')?.breaker?.state).toBe('closed');
    expect(calls.items).toBe(2);
    // but for those retryLink retries: a 429 counts, as docs/trpc.md says
    outcomes = ['limited'];
    expect((await failure(client.items.query())).data?.httpStatus).toBe(429);
    expect(breakers.client.host('items')?.breaker?.state).toBe('open');
  });

  it.each([
    ['httpBatchLink', httpBatchLink, 1_000, 'open'],
    ['httpBatchStreamLink', httpBatchStreamLink, 0, 'closed'],
  ] as const)(
    'times a call of a batch as %s answers it: a fast query batched with a slow one, under httpBatchLink, is a slow call',
    async (_, terminating, answeredAt, state) => {
      const clock = new FakeClock();
      const strategy = countWindow({ size: 1, minimumCalls: 1, failureRate: 1, slowCallMs: 500 });
      const breakers = circuitBreakerLink<AppRouter>({ breaker: { strategy }, clock });
      const client = await setup((url) => [breakers, terminating({ url })], clock);
      outcomes = ['late', 'ok'];
      const slow = client.items.query();
      const fast: number[] = [];
      void client.other.query().then(() => fast.push(clock.now()));
      await until(() => calls.other === 1 && (answeredAt > 0 || fast.length === 1), 'both queries at the server');
      await clock.advance(1_000);
      answerLate();
      await slow;
      await until(() => fast.length === 1, 'the fast query answered');
      expect([fast[0], breakers.client.host('other')?.breaker?.state]).toEqual([answeredAt, state]);
    },
  );

  it('counts an answer that is no HTTP, which retryLink does not retry', async () => {
    const clock = new FakeClock();
    const breakers = circuitBreakerLink<AppRouter>({ breaker: { strategy: consecutive(1) }, clock });
    const retries = retryLink<AppRouter>({ retry: { clock, random: sequenceRandom(0) } });
    const client = await setup((url) => [retries, breakers, httpLink({ url })], clock);
    outcomes = ['garbage'];
    const error = await failure(client.items.query());
    expect((error.cause?.cause as { code?: string } | undefined)?.code).toBe('HPE_INVALID_CONSTANT');
    expect(calls.items).toBe(1); // not retried: the same bytes on every try
    expect(breakers.client.host('items')?.breaker?.state).toBe('open'); // before, a success: closed
  });

  it('rejects bad options naming them as the link calls them', () => {
    const issues = (options: object) => {
      try {
        circuitBreakerLink(options as never);
      } catch (error) {
        expect((error as Error).message).toMatch(/^Invalid circuitBreakerLink options: /);
        return (error as ConfigurationError).issues.map((i) => i.option);
      }
      return [];
    };
    expect(issues({ breaker: {}, maxKeys: 0 })).toEqual(['maxKeys']);
    expect(issues({ breaker: {}, key: 5, name: '' })).toEqual(['key', 'name']);
    expect(issues({ breaker: { halfOpenAfter: -1 } })).toEqual(['breaker.halfOpenAfter']);
    // The link's own and the breaker's, in one error.
    expect(issues({ breaker: { halfOpenAfter: -1 }, bogus: 1 })).toEqual(['bogus', 'breaker.halfOpenAfter']);
  });
});

describe('timeoutLink against a real tRPC server', () => {
  it('aborts a slow query at ms: the request is cancelled and the call fails with a TimeoutError', async () => {
    const clock = new FakeClock();
    const client = await setup((url) => [timeoutLink({ ms: 1_000, clock }), httpLink({ url })], clock);
    outcomes = ['hang'];
    const pending = failure(client.items.query());
    await until(() => calls.items === 1, 'the query to reach the server');
    await clock.advance(1_000);
    expect((await pending).cause).toBeInstanceOf(TimeoutError);
    await until(() => aborted === 1, 'the server to see the request aborted');
  });

  it('is retried by a retryLink placed before it', async () => {
    const clock = new FakeClock();
    const client = await setup(
      (url) => [
        retryLink({ retry: { backoff: backoff.constant(0), clock } }),
        timeoutLink({ ms: 1_000, clock }),
        httpLink({ url }),
      ],
      clock,
    );
    outcomes = ['hang'];
    const pending = client.items.query();
    await until(() => calls.items === 1, 'the query to reach the server');
    await clock.advance(1_000);
    expect(await pending).toEqual(['a', 'b']);
    expect(calls.items).toBe(2);
  });

  it('fails a slow query of a streamed batch at ms by default (aggressive), though tRPC keeps the batch open for it', async () => {
    // tRPC's batch links cancel a call's request only once every call of the batch is aborted.
    const clock = new FakeClock();
    const client = await setup((url) => [timeoutLink({ ms: 1_000, clock }), httpBatchStreamLink({ url })], clock);
    outcomes = ['late', 'ok'];
    const slow = failure(client.items.query());
    expect(await client.other.query()).toBe('other');
    await clock.advance(1_000);
    answerLate();
    expect((await slow).cause).toBeInstanceOf(TimeoutError);
  });
});

describe('timeoutLink over httpBatchLink', () => {
  it('fails a fast query batched with a slow one at ms too: httpBatchLink answers each call with the whole batch', async () => {
    const clock = new FakeClock();
    const client = await setup((url) => [timeoutLink({ ms: 1_000, clock }), httpBatchLink({ url })], clock);
    outcomes = ['late', 'ok'];
    const slow = failure(client.items.query());
    const fast = failure(client.other.query());
    await until(() => calls.other === 1, 'both queries to reach the server');
    await clock.advance(1_000);
    answerLate();
    expect([(await slow).cause, (await fast).cause]).toEqual([expect.any(TimeoutError), expect.any(TimeoutError)]);
  });
});

describe('timeoutLink options', () => {
  it('are reported as the link’s', () => {
    expect(() => timeoutLink({ ms: -1 })).toThrow('Invalid timeoutLink options: ms: received -1');
    expect(() => timeoutLink({ ms: 5, strategy: 'soon' as never })).toThrow(
      'Invalid timeoutLink options: strategy: received "soon"',
    );
    // A misspelt option and a bad one that timeout() checks are named in one error.
    expect(() => timeoutLink({ ms: 5, strategy: 'soon' as never, strategi: 'lazy' } as never)).toThrow(
      /^Invalid timeoutLink options: strategi: .*; strategy: received "soon"/,
    );
    expect(() => retryLink({ retry: { maxAttempts: 0 }, idempotent: true as never })).toThrow(
      /^Invalid retryLink options: idempotent: .*; retry\.maxAttempts: received 0/,
    );
  });

  it('name an ms that is no number as ms, without timeout()’s hints or its other options', () => {
    for (const ms of ['5000', { ms: 'p99', min: 1, max: 10 }]) {
      expect(() => timeoutLink({ ms: ms as never })).toThrow(
        /^Invalid timeoutLink options: ms: received .*, expected a finite number > 0$/,
      );
    }
  });
});

describe('rateLimitLink against a real tRPC server', () => {
  it('waits for the client-side quota in FIFO order, and refuses past maxWaitMs', async () => {
    const clock = new FakeClock();
    const quota = rateLimiter({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 / 60 }), clock });
    const client = await setup(
      (url) => [rateLimitLink({ limiter: quota, maxWaitMs: 60_000 }), httpLink({ url })],
      clock,
    );
    expect(await client.items.query()).toEqual(['a', 'b']);
    const order: string[] = [];
    const second = client.items.query().then(() => order.push('second'));
    const third = failure(client.other.query());
    await waiting(clock);
    expect(calls.items).toBe(1);
    await clock.advance(60_000);
    await second;
    expect((await third).cause).toBeInstanceOf(RateLimitExceededError); // would have waited 120 s
    expect(order).toEqual(['second']);
    expect(calls).toEqual({ items: 2 });
  });
  it('gives up the place and the quota of an operation unsubscribed while it waits (a subscription closed, a query dropped by a link before it)', async () => {
    const clock = new FakeClock();
    const quota = rateLimiter({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }), clock });
    const link = rateLimitLink({ limiter: quota, subscriptions: true })({});
    const sent: string[] = [];
    const errors: unknown[] = [];
    const next = (op: Operation) =>
      observable<never, never>(() => {
        sent.push(op.path);
        return () => {};
      });
    const run = (type: Operation['type'], path: string) =>
      link({ op: { id: 1, type, path, input: undefined, context: {}, signal: null }, next }).subscribe({
        error: (error) => errors.push(error),
      });
    run('query', 'first');
    const events = run('subscription', 'events');
    const dropped = run('query', 'dropped');
    run('query', 'last');
    await until(() => sent.length === 1, 'the first operation sent');
    events.unsubscribe();
    dropped.unsubscribe();
    await clock.advance(1_000); // one token: the next operation still waiting takes it
    await until(() => sent.length === 2, 'the last operation sent');
    expect(sent).toEqual(['first', 'last']);
    expect(errors).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('answers a call whose signal aborts just after the limiter admitted it (the same tick): the caller hears the abort, not nothing', async () => {
    const clock = new FakeClock();
    const quota = rateLimiter({ algorithm: tokenBucket({ capacity: 10, refillPerSecond: 1 }), clock });
    const client = await setup((url) => [rateLimitLink({ limiter: quota }), httpLink({ url })], clock);
    const cancel = new AbortController();
    const call = failure(client.items.query(undefined, { signal: cancel.signal }));
    cancel.abort(); // as a component that unmounts at once cancels its query
    expect((await call).cause).toMatchObject({ name: 'AbortError' });
    expect(calls).toEqual({});
  });

  it('fails a call whose key throws or is no string, and leaves no listener on its signal', async () => {
    const clock = new FakeClock();
    const quota = rateLimiter({ algorithm: tokenBucket({ capacity: 10, refillPerSecond: 1 }), clock });
    const shutdown = new AbortController();
    for (const key of [
      () => {
        throw new Error('no session');
      },
      () => 42 as never,
    ]) {
      const client = await setup((url) => [rateLimitLink({ limiter: quota, key }), httpLink({ url })], clock);
      const error = await failure(client.items.query(undefined, { signal: shutdown.signal }));
      expect(error).toBeInstanceOf(TRPCClientError);
      expect(getEventListeners(shutdown.signal, 'abort')).toEqual([]);
      await server?.close();
      server = undefined;
    }
    expect(calls).toEqual({});
  });
});

describe('the links and subscriptions', () => {
  const subscription: Operation = {
    id: 1,
    type: 'subscription',
    path: 'events',
    input: undefined,
    context: {},
    signal: null,
  };

  it('pass a subscription through untouched (the rate limit only when asked)', () => {
    const stream = observable<never, never>(() => () => {});
    const next = () => stream;
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }), clock });
    for (const link of [
      retryLink(),
      circuitBreakerLink({ breaker: {} }),
      timeoutLink({ ms: 1_000, clock }),
      rateLimitLink({ limiter }),
    ]) {
      expect(link({})({ op: subscription, next: next as never })).toBe(stream);
    }
    expect(rateLimitLink({ limiter, subscriptions: true })({})({ op: subscription, next: next as never })).not.toBe(
      stream,
    );
  });
});

describe('a downstream link that fails with a value with no string form', () => {
  it('reaches the caller as a TRPCClientError, not a TypeError thrown out of the link', async () => {
    const op: Operation = { id: 1, type: 'query', path: 'items', input: undefined, context: {}, signal: null };
    const formless = () =>
      observable<never, never>((observer) => {
        observer.error(Object.create(null) as never);
        return () => {};
      });
    const heard: unknown[] = [];
    const link = retryLink({ retry: { maxAttempts: 1 } })({});
    link({ op, next: formless as never }).subscribe({ error: (error) => heard.push(error) });
    await until(() => heard.length === 1, 'the error reached the caller');
    expect(heard[0]).toBeInstanceOf(TRPCClientError);
  });

  it('refuses an async key of circuitBreakerLink and rateLimitLink at construction: its promise is no key', () => {
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }) });
    expect(() => circuitBreakerLink({ breaker: {}, key: (async () => 'k') as never })).toThrow(
      'Invalid circuitBreakerLink options: key: received a function, expected a function, not async',
    );
    expect(() => rateLimitLink({ limiter, key: (async () => 'k') as never })).toThrow(
      'Invalid rateLimitLink options: key: received a function, expected a function, not async',
    );
  });

  it('refuses an async idempotent(op) at construction: its promise would read as no', () => {
    expect(() => retryLink({ idempotent: (async () => true) as never })).toThrow(/idempotent: .*not async/);
  });

  it.each([
    ['a promise', () => Promise.resolve(true), 'object'],
    ['a string', () => 'yes', 'string'],
  ])(
    'fails a call whose idempotent(op) answers %s, naming the option (before, read as no)',
    async (_, answer, type) => {
      const clock = new FakeClock();
      const client = await setup(
        (url) => [retryLink<AppRouter>({ retry: { clock }, idempotent: answer as never }), httpLink({ url })],
        clock,
      );
      outcomes = ['unavailable'];
      const error = (await client.items.query().catch((e: unknown) => e)) as TRPCClientError<AppRouter>;
      expect(error).toBeInstanceOf(TRPCClientError);
      expect(error.cause).toBeInstanceOf(TypeError);
      expect(error.message).toBe(`retryLink: idempotent(op) must return a boolean, received ${type}`);
      expect(requests).toBe(0); // nothing sent: before, sent once and its 503 not retried
    },
  );
});

describe('an operation unsubscribed while a link holds it', () => {
  const op: Operation = { id: 1, type: 'query', path: 'items', input: undefined, context: {}, signal: null };

  it('ends retryLink’s wait for Retry-After at once, sends nothing more, and the caller hears nothing', async () => {
    const clock = new FakeClock();
    let sent = 0;
    const refused = () =>
      observable<never, TRPCClientError<AnyRouter>>((observer) => {
        sent++;
        const cause = Object.assign(new Error('busy'), { data: { httpStatus: 429, retryAfterMs: 30_000 } });
        observer.error(TRPCClientError.from(cause));
        return () => {};
      });
    const heard: unknown[] = [];
    const link = retryLink({ retry: { clock, random: sequenceRandom(0) } })({});
    const subscription = link({ op, next: refused as never }).subscribe({
      next: (value) => heard.push(value),
      error: (error) => heard.push(error),
    });
    await waiting(clock);
    subscription.unsubscribe();
    await until(() => clock.pendingTimers === 0, 'the wait ended');
    await clock.advance(60_000);
    expect([sent, heard]).toEqual([1, []]);
  });

  it('is no failure to circuitBreakerLink, whose count is settled', async () => {
    const clock = new FakeClock();
    const link = circuitBreakerLink({ breaker: { strategy: consecutive(1), halfOpenAfter: 1_000 }, clock });
    let sent = 0;
    const hanging = () =>
      observable<never, never>(() => {
        sent++;
        return () => {};
      });
    for (let i = 0; i < 3; i++)
      link({})({ op, next: hanging as never })
        .subscribe({})
        .unsubscribe();
    await until(() => link.client.host('items') !== undefined, 'the breaker made');
    expect([sent, link.client.host('items')?.breaker?.state]).toEqual([3, 'closed']);
  });
});

describe('a signal shared by many operations (an app-wide shutdown signal)', () => {
  it('carries one abort listener however many operations wait in the links, and none once they settle', async () => {
    const clock = new FakeClock();
    const quota = rateLimiter({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }), clock });
    const shutdown = new AbortController();
    const pending: (() => void)[] = [];
    const held = () =>
      observable<{ result: { data: string } }, never>((observer) => {
        pending.push(() => {
          observer.next({ result: { data: 'ok' } });
          observer.complete();
        });
        return () => {};
      });
    const links = [
      rateLimitLink({ limiter: quota, maxWaitMs: 60_000 })({}),
      retryLink({ retry: { clock } })({}),
      circuitBreakerLink({ breaker: {}, clock })({}),
      timeoutLink({ ms: 120_000, clock })({}),
    ];
    const chain = (op: Operation, index = 0): ReturnType<typeof held> =>
      index === links.length
        ? held()
        : (links[index]!({ op, next: (next) => chain(next, index + 1) as never }) as never);
    let done = 0;
    for (let id = 0; id < 20; id++) {
      const op: Operation = {
        id,
        type: 'query',
        path: 'items',
        input: undefined,
        context: {},
        signal: shutdown.signal,
      };
      chain(op).subscribe({ complete: () => done++ });
    }
    await clock.advance(19_000); // the quota lets them all through, one a second
    await until(() => pending.length === 20, 'every operation sent');
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1); // core's fan-out
    for (const answer of pending) answer();
    await until(() => done === 20, 'every operation answered');
    expect(getEventListeners(shutdown.signal, 'abort')).toEqual([]);
  });
});

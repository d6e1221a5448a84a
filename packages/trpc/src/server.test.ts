import { EventEmitter, getEventListeners, on } from 'node:events';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  ConfigurationError,
  type EventLogger,
  IdempotencyConflictError,
  idempotency,
  memoryStore,
  RateLimitExceededError,
  rateLimiter,
  type Store,
  StoreUnavailableError,
  TimeoutError,
  tokenBucket,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import { type AnyTRPCRouter, initTRPC, TRPCError } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../fetch/src/testing/server.js';
import { errorFormatter, idempotentMutation, rateLimitMiddleware, responseMeta, timeoutMiddleware } from './server.js';
import { hearDecisions } from './testing/decisions.js';
import { failure } from './testing/failure.js';
import { startServer, type TestServer } from './testing/server.js';

let server: TestServer | undefined;
const heard = hearDecisions();
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const t = initTRPC.context<{ userId: string }>().create({ errorFormatter: errorFormatter() });

async function serve<R extends AnyTRPCRouter>(router: R, userId = 'u1') {
  server = await startServer({
    router,
    createContext: () => ({ userId }),
    responseMeta: responseMeta(),
  });
  return server.url;
}

/** A logger that keeps what it is told as an error. */
function listening() {
  const told: [object, string][] = [];
  const logger: EventLogger = { info() {}, warn() {}, error: (fields, message) => told.push([fields, message]) };
  return { logger, told };
}

type Answer = { result?: { data: unknown }; error: { data: Record<string, unknown> } };

/** A raw GET of a query, to read the HTTP answer itself. */
async function get(url: string, path: string) {
  const response = await fetch(`${url}/${path}`);
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer };
}

/** A router whose one query, `hello`, is behind `rateLimitMiddleware(options)`. */
const limitedHello = (options: Parameters<typeof rateLimitMiddleware<{ userId: string }>>[0]) =>
  t.router({ hello: t.procedure.use(rateLimitMiddleware<{ userId: string }>(options)).query(() => 'hi') });

describe('rateLimitMiddleware, errorFormatter and responseMeta over HTTP', () => {
  it('refuses a call over the quota: 429 TOO_MANY_REQUESTS, Retry-After and the draft-10 RateLimit fields', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ name: 'api', algorithm: tokenBucket({ capacity: 1, refillPerSecond: 0.4 }), clock });
    const url = await serve(limitedHello({ limiter, key: ({ ctx, path }) => `${ctx.userId}:${path}`, clock }));
    expect((await get(url, 'hello')).status).toBe(200);
    const refused = await get(url, 'hello');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('3'); // 2.5 s, rounded up
    expect(refused.headers.get('ratelimit-policy')).toBe('"api";q=1;w=3');
    expect(refused.headers.get('ratelimit')).toBe('"api";r=0;t=3');
    expect(refused.body.error.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', httpStatus: 429, retryAfterMs: 2_500 });
    await clock.advance(2_500);
    expect((await get(url, 'hello')).status).toBe(200);
    expect(heard).toEqual([{ decision: 'rate_limited', policy: 'api' }]);
  });

  it.each([
    ['an open breaker', new BrokenCircuitError('down', 4_200), 503, 'SERVICE_UNAVAILABLE', '5'],
    ['an upstream timeout', new TimeoutError(1_000), 504, 'GATEWAY_TIMEOUT', null],
    ['a full bulkhead', new BulkheadRejectedError(10, 0, 1_000), 503, 'SERVICE_UNAVAILABLE', '1'],
    ['a rate-limit refusal', new RateLimitExceededError(1_500), 429, 'TOO_MANY_REQUESTS', '2'],
    ['a key in flight', new IdempotencyConflictError('in_flight'), 409, 'CONFLICT', null],
    ['an error with its own status', Object.assign(new Error('gone'), { status: 404 }), 404, 'NOT_FOUND', null],
    ['a bug', new TypeError('x is undefined'), 500, 'INTERNAL_SERVER_ERROR', null],
    [
      "an upstream fetch could not reach (fetch's TypeError over ECONNREFUSED)",
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      }),
      502,
      'BAD_GATEWAY',
      null,
    ],
    ['a TRPCError thrown on purpose', new TRPCError({ code: 'FORBIDDEN' }), 403, 'FORBIDDEN', null],
  ])('answers %s as the HTTP adapters do', async (_, error, status, code, retryAfter) => {
    const url = await serve(
      t.router({
        fails: t.procedure.query(() => {
          throw error;
        }),
      }),
    );
    const answer = await get(url, 'fails');
    expect(answer.status).toBe(status);
    expect(answer.body.error.data).toMatchObject({ code, httpStatus: status });
    expect(answer.headers.get('retry-after')).toBe(retryAfter);
  });

  it('passes on no rate-limit fields of an upstream’s error (its own quota, not the caller’s)', async () => {
    // As undici's ResponseStatusCodeError carries an upstream's answer: its headers are the upstream's.
    const upstream = Object.assign(new Error('upstream refused'), {
      statusCode: 429,
      headers: {
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '0',
        'ratelimit-policy': '"github";q=5000;w=3600',
        ratelimit: '"github";r=0;t=60',
      },
    });
    const url = await serve(
      t.router({
        fails: t.procedure.query(() => {
          throw upstream;
        }),
      }),
    );
    const answer = await get(url, 'fails');
    const fields = [...answer.headers.keys()].filter((name) => name.includes('ratelimit'));
    expect(fields).toEqual([]);
  });

  it('keeps the status tRPC gives a code it raises itself (PARSE_ERROR: 400, not 500)', async () => {
    const url = await serve(t.router({ hello: t.procedure.query(() => 'hi') }));
    const answer = await get(url, `hello?connectionParams=${encodeURIComponent('{not json')}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.data).toMatchObject({ code: 'PARSE_ERROR', httpStatus: 400 });
  });

  it('adds to the response meta and error shape of your own', async () => {
    const own = initTRPC.create({
      errorFormatter: errorFormatter(({ shape }) => ({
        ...shape,
        data: { ...shape.data, stack: undefined, app: 'x' },
      })),
    });
    server = await startServer({
      router: own.router({
        fails: own.procedure.query(() => {
          throw new BrokenCircuitError('down', 1_000);
        }),
        ok: own.procedure.query(() => 'ok'),
      }),
      responseMeta: responseMeta(() => ({ headers: { 'cache-control': 'no-store' } })),
    });
    const failed = await get(server.url, 'fails');
    expect(failed.headers.get('cache-control')).toBe('no-store');
    expect(failed.headers.get('retry-after')).toBe('1');
    expect(failed.body.error.data).toMatchObject({ app: 'x', code: 'SERVICE_UNAVAILABLE', retryAfterMs: 1_000 });
    const ok = await get(server.url, 'ok');
    expect([ok.status, ok.headers.get('cache-control'), ok.headers.get('retry-after')]).toEqual([
      200,
      'no-store',
      null,
    ]);
  });

  it('hands your formatter tRPC’s own code, by which it hides the messages of errors nobody threw on purpose (the shape’s code and status are the answer’s)', async () => {
    const production = (hideBy: (o: { shape: { data: { code: string } }; error: TRPCError }) => boolean) =>
      initTRPC.create({
        errorFormatter: errorFormatter((o) => (hideBy(o) ? { ...o.shape, message: 'Internal server error' } : o.shape)),
      });
    const answers = async (own: ReturnType<typeof production>) => {
      server = await startServer({
        router: own.router({
          db: own.procedure.query(() => {
            throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
          }),
          store: own.procedure.query(() => {
            throw new StoreUnavailableError('redis 10.0.0.7:6379 is down');
          }),
          busy: own.procedure.query(() => {
            throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: 'Slow down' });
          }),
        }),
        responseMeta: responseMeta(),
      });
      const said = [];
      for (const path of ['db', 'store', 'busy']) {
        const { status, body } = await get(server.url, path);
        said.push([status, (body.error as { message?: string }).message]);
      }
      await server.close();
      server = undefined;
      return said;
    };
    // What docs/trpc.md shows: tRPC's code, INTERNAL_SERVER_ERROR for anything not thrown as a TRPCError.
    expect(await answers(production(({ error }) => error.code === 'INTERNAL_SERVER_ERROR'))).toEqual([
      [502, 'Internal server error'],
      [503, 'Internal server error'],
      [429, 'Slow down'],
    ]);
    // The check that hides them with tRPC alone reads this formatter's answer, a 502 or a 503.
    expect(await answers(production(({ shape }) => shape.data.code === 'INTERNAL_SERVER_ERROR'))).toEqual([
      [502, 'connect ECONNREFUSED 10.0.0.5:5432'],
      [503, 'redis 10.0.0.7:6379 is down'],
      [429, 'Slow down'],
    ]);
  });

  it('puts Retry-After on a batch only when every call in it was refused with a wait', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ name: 'api', algorithm: tokenBucket({ capacity: 1, refillPerSecond: 0.1 }), clock });
    const limited = t.procedure.use(
      rateLimitMiddleware<{ userId: string }>({ limiter, key: ({ ctx }) => ctx.userId, clock }),
    );
    const url = await serve(
      t.router({
        a: limited.query(() => 'a'),
        b: t.procedure.query(() => 'b'),
        down: t.procedure.query(() => {
          throw new TRPCError({ code: 'SERVICE_UNAVAILABLE' });
        }),
      }),
    );
    expect((await get(url, 'a')).status).toBe(200); // the quota, spent
    // One call refused beside one answered, then beside one that failed without a wait: the
    // header would tell the others (and tRPC clients reading it for any failed call) to wait 10 s.
    for (const path of ['a,b', 'a,down']) {
      const mixed = await get(url, `${path}?batch=1&input={}`);
      expect(mixed.status).toBe(207);
      expect(mixed.headers.get('retry-after')).toBe(null);
      expect(mixed.headers.get('ratelimit')).toBe('"api";r=0;t=10');
      expect(mixed.body).toMatchObject([{ error: { data: { retryAfterMs: 10_000 } } }, {}]);
    }
    const refused = await get(url, 'a,a?batch=1&input={}');
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([429, '10']);
  });

  it('lists each policy of a batch’s refusals once, with the longest wait, and gives the legacy fields one value: the most constrained limit’s', async () => {
    const clock = new FakeClock();
    const algorithm = tokenBucket({ capacity: 2, refillPerSecond: 0.1 });
    const api = rateLimiter({ name: 'api', algorithm, clock });
    const burst = rateLimiter({ name: 'burst', algorithm, clock });
    // One quota per procedure, so the calls of a batch are refused with different waits.
    const perPath = (limiter: typeof api) =>
      t.procedure.use(
        rateLimitMiddleware<{ userId: string }>({ limiter, key: ({ path }) => path, clock, headers: 'both' }),
      );
    const url = await serve(
      t.router({
        a: perPath(api).query(() => 'a'),
        b: perPath(api).query(() => 'b'),
        c: perPath(burst).query(() => 'c'),
      }),
    );
    for (const path of ['a', 'a']) await get(url, path);
    await clock.advance(5_000);
    for (const path of ['b', 'b', 'c', 'c']) await get(url, path);
    const refused = await get(url, 'a,b?batch=1&input={}');
    expect(refused.body).toMatchObject([
      { error: { data: { retryAfterMs: 5_000 } } },
      { error: { data: { retryAfterMs: 10_000 } } },
    ]);
    expect(Object.fromEntries([...refused.headers].filter(([name]) => /rate|retry/.test(name)))).toEqual({
      'retry-after': '10',
      'ratelimit-policy': '"api";q=2;w=20',
      ratelimit: '"api";r=0;t=10',
      'ratelimit-limit': '2',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '10',
      'x-ratelimit-limit': '2',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': '15',
    });
    // Two policies: both listed, in the order of their waits.
    const both = await get(url, 'b,c,a?batch=1&input={}');
    expect([both.headers.get('ratelimit-policy'), both.headers.get('ratelimit')]).toEqual([
      '"api";q=2;w=20, "burst";q=2;w=20',
      '"api";r=0;t=10, "burst";r=0;t=10',
    ]);
  });

  it('lists both of two limiters left unnamed that refuse calls of one batch, as the HTTP adapters do, and tells the logger once to name them', async () => {
    const clock = new FakeClock();
    const { logger, told } = listening();
    // Two limiters, both "rateLimiter": before, the batch's fields listed one of them.
    const perUser = rateLimiter({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 0.1 }), clock });
    const perPath = rateLimiter({ algorithm: tokenBucket({ capacity: 5, refillPerSecond: 0.5 }), clock });
    const limited = (limiter: typeof perUser) =>
      t.procedure.use(
        rateLimitMiddleware<{ userId: string }>({ limiter, key: ({ ctx }) => ctx.userId, clock, logger }),
      );
    const router = t.router({ a: limited(perUser).query(() => 'a'), b: limited(perPath).query(() => 'b') });
    const url = await serve(router);
    const fields: Record<string, string | null>[] = [];
    const client = createTRPCClient<typeof router>({
      links: [
        httpBatchLink({
          url,
          fetch: async (input, init) => {
            const response = await fetch(input, init as RequestInit);
            fields.push({ policy: response.headers.get('ratelimit-policy'), now: response.headers.get('ratelimit') });
            return response;
          },
        }),
      ],
    });
    expect(await Promise.all([client.a.query(), client.b.query()])).toEqual(['a', 'b']);
    for (let i = 0; i < 4; i++) await client.b.query(); // perPath's quota spent too
    for (let batch = 0; batch < 2; batch++) {
      const refused = await Promise.allSettled([client.a.query(), client.b.query(), client.b.query()]);
      expect(refused.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    }
    expect(fields.at(-1)).toEqual({
      policy: '"rateLimiter";q=1;w=10, "rateLimiter";q=5;w=10',
      now: '"rateLimiter";r=0;t=10, "rateLimiter";r=0;t=2',
    });
    expect(told).toEqual([
      [
        { policy: 'rateLimiter' },
        'rateLimitMiddleware "rateLimiter": another limiter of this name refused a call of the batch: give each its own name',
      ],
    ]);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['number', 42],
    ["''", ''],
  ])(
    'fails each call whose key is %s with an error naming the key option, tells the logger once, and spends no quota',
    async (received, key) => {
      const { logger, told } = listening();
      const limiter = rateLimiter({ name: 'api', algorithm: tokenBucket({ capacity: 5, refillPerSecond: 1 }) });
      const left = async () => (await limiter.peek('', 0)).remaining; // '' is no one's quota: it stays whole
      const router = t.router({
        hello: t.procedure.use(rateLimitMiddleware({ limiter, key: () => key as string, logger })).query(() => 'hi'),
      });
      const client = createTRPCClient<typeof router>({ links: [httpLink({ url: await serve(router) })] });
      for (let i = 0; i < 2; i++) {
        const error = await failure(client.hello.query());
        expect([error.data?.httpStatus, error.message]).toEqual([
          500,
          `rateLimitMiddleware: key returned ${received} for hello, not a non-empty string`,
        ]);
      }
      expect(told).toEqual([
        [
          { policy: 'api', path: 'hello' },
          `rateLimitMiddleware "api": key returned ${received} for hello, not a non-empty string`,
        ],
      ]);
      expect(await left()).toBe(5);
    },
  );

  it('answers a store that is down with SERVICE_UNAVAILABLE (503) and reports store_unavailable, as the adapters do', async () => {
    const fail = () => Promise.reject(new StoreUnavailableError('store down'));
    const store: Store = { apply: fail, applyAll: fail, get: fail, set: fail, delete: fail, keys: fail };
    const limiter = rateLimiter({
      name: 'api',
      algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }),
      store,
      onStoreError: 'closed',
    });
    const url = await serve(
      t.router({ hello: t.procedure.use(rateLimitMiddleware({ limiter, key: () => 'k' })).query(() => 'hi') }),
    );
    const answer = await get(url, 'hello');
    expect([answer.status, answer.body.error.data.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
    expect(heard).toEqual([{ decision: 'store_unavailable', policy: 'api' }]);
  });

  it('refuses a cost the limiter can never admit at construction, not as a 500 on every call', () => {
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 2, refillPerSecond: 1 }) });
    expect(() => rateLimitMiddleware({ limiter, key: () => 'k', cost: 3 })).toThrow(ConfigurationError);
    expect(() => rateLimitMiddleware({ limiter, key: () => 'k', cost: 3 })).toThrow(/cost: received 3/);
    expect(() => rateLimitMiddleware({ limiter, key: () => 'k', cost: 2 })).not.toThrow();
    expect(() => rateLimitMiddleware({ limiter, key: () => 'k', headers: 'draft-8' as never })).toThrow(
      /^Invalid rateLimitMiddleware options: headers: received "draft-8"/,
    );
  });

  it('refuses a formatter or responseMeta of your own that is no function, and the helpers passed uncalled', () => {
    // errorFormatter: errorFormatter (not called) made every error's shape a function: the client read {}.
    expect(() => errorFormatter({ shape: {} } as never)).toThrow(
      /^Invalid errorFormatter options: format: received \{.*\}, expected a function/,
    );
    expect(() => responseMeta({ errors: [] } as never)).toThrow(
      /^Invalid responseMeta options: own: received \{.*\}, expected a function/,
    );
  });

  it('refuses an async formatter or responseMeta of your own: tRPC reads their answers at once', async () => {
    // Before: the error's shape was a promise (`{}` in a 500 the client could not read), the meta without its headers.
    expect(() => errorFormatter(async ({ shape }) => shape)).toThrow(
      /^Invalid errorFormatter options: format: received a function, expected a function, not async/,
    );
    expect(() => responseMeta((async () => ({ headers: { 'x-own': '1' } })) as never)).toThrow(
      /^Invalid responseMeta options: own: received a function, expected a function, not async/,
    );
  });

  it('awaits a key that is a promise (a session looked up), and answers its rejection as the key’s error', async () => {
    const limiter = rateLimiter({ name: 'api', algorithm: tokenBucket({ capacity: 1, refillPerSecond: 0.001 }) });
    const url = await serve(
      limitedHello({
        limiter,
        key: async ({ ctx, path }) => {
          if (path === 'hello') return ctx.userId;
          throw new TRPCError({ code: 'UNAUTHORIZED' });
        },
      }),
    );
    expect((await get(url, 'hello')).status).toBe(200);
    const refused = await get(url, 'hello');
    expect([refused.status, refused.headers.get('ratelimit-policy')]).toEqual([429, '"api";q=1;w=1000']);
  });

  it('answers a key that rejects as its error says', async () => {
    const limiter = rateLimiter({ name: 'api', algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }) });
    const key = () => Promise.reject(new TRPCError({ code: 'UNAUTHORIZED' }));
    const url = await serve(
      t.router({ hello: t.procedure.use(rateLimitMiddleware({ limiter, key: key as never })).query(() => 'hi') }),
    );
    expect((await get(url, 'hello')).status).toBe(401);
  });

  it('rejects a middleware without a key or a limiter, naming them', () => {
    expect(() => rateLimitMiddleware({} as never)).toThrow(ConfigurationError);
    expect(() => rateLimitMiddleware({} as never)).toThrow(/limiter[\s\S]*key/);
    expect(() => rateLimitMiddleware(null as never)).toThrow(
      /^Invalid rateLimitMiddleware options: options: received null/,
    );
  });
});

describe('timeoutMiddleware', () => {
  it('reports bad options as its own', () => {
    expect(() => timeoutMiddleware({ ms: -1 })).toThrow('Invalid timeoutMiddleware options: ms: received -1');
    expect(() => timeoutMiddleware({ ms: -1, mss: 5 } as never)).toThrow(
      /^Invalid timeoutMiddleware options: mss: .*; ms: received -1/,
    );
    expect(() => timeoutMiddleware(undefined as never)).toThrow(
      /^Invalid timeoutMiddleware options: ms: received undefined/,
    );
    expect(() => timeoutMiddleware(null as never)).toThrow(
      /^Invalid timeoutMiddleware options: options: received null/,
    );
    // Not timeout()'s hint (`timeout({ ms: 'p99' })`) nor its options object, which the caller never wrote.
    for (const ms of ['5000', { ms: 'p99', min: 1, max: 10 }]) {
      expect(() => timeoutMiddleware({ ms: ms as never })).toThrow(
        /^Invalid timeoutMiddleware options: ms: received .*, expected a finite number > 0$/,
      );
    }
  });

  it('answers TIMEOUT at ms (503 through responseMeta, as the HTTP adapters answer a request timeout) and aborts ctx.signal; a fast call passes', async () => {
    const clock = new FakeClock();
    let aborted = false;
    let started = false;
    const bounded = t.procedure.use(timeoutMiddleware({ ms: 1_000, clock }));
    const url = await serve(
      t.router({
        slow: bounded.query(
          ({ ctx }) =>
            new Promise<string>((resolve) => {
              started = true;
              ctx.signal.addEventListener('abort', () => {
                aborted = true;
                resolve('too late');
              });
            }),
        ),
        fast: bounded.query(({ ctx }) => (ctx.signal.aborted ? 'aborted' : `fast for ${ctx.userId}`)),
      }),
    );
    expect((await get(url, 'fast')).body).toEqual({ result: { data: 'fast for u1' } });
    const pending = get(url, 'slow');
    await until(() => started, 'the procedure to start');
    await clock.advance(1_000);
    const answer = await pending;
    expect(answer.status).toBe(503);
    expect(answer.body.error.data.code).toBe('TIMEOUT');
    expect(answer.headers.get('retry-after')).toBeNull();
    expect(aborted).toBe(true);
    expect(heard).toEqual([{ decision: 'timed_out' }]);
  });

  it('through responseMeta never answers 408, which browsers send again by themselves on a reused connection (a mutation run twice), with or without errorFormatter', async () => {
    const clock = new FakeClock();
    const plain = initTRPC.create(); // tRPC's own formatter: the status comes from the code alone
    let runs = 0;
    const slow = () => {
      runs++;
      return new Promise<never>(() => {}); // ignores its signal
    };
    const router = plain.router({ order: plain.procedure.use(timeoutMiddleware({ ms: 1_000, clock })).mutation(slow) });
    server = await startServer({ router, responseMeta: responseMeta() });
    // A lone call, a batch of one, and a batch whose two calls both time out (tRPC gives a
    // batch whose calls share a status that status, not 207).
    for (const [path, batch, started] of [
      ['order', false, 1],
      ['order?batch=1', true, 2],
      ['order,order?batch=1', true, 4],
    ] as const) {
      const answer = fetch(`${server.url}/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: batch ? '{}' : '',
      });
      await until(() => runs === started, 'the mutations to start');
      await clock.advance(1_000);
      const response = await answer;
      const body = (await response.json()) as { error: { data: { code: string } } }[] & {
        error: { data: { code: string } };
      };
      expect([response.status, (batch ? body[0]! : body).error.data.code]).toEqual([503, 'TIMEOUT']);
    }
  });
  it('lets go of the request’s signal once a call is done (a query at once, a subscription when it ends): a signal many calls share, createCaller’s, carries no listener', async () => {
    const shutdown = new AbortController();
    const bounded = t.procedure.use(timeoutMiddleware({ ms: 60_000 }));
    const router = t.router({
      hello: bounded.query(() => 'hi'),
      count: bounded.subscription(async function* () {
        yield 1;
        yield 2;
      }),
    });
    const caller = t.createCallerFactory(router)({ userId: 'u1' }, { signal: shutdown.signal });
    for (let i = 0; i < 20; i++) expect(await caller.hello()).toBe('hi');
    const counted: number[] = [];
    for await (const n of await caller.count()) counted.push(n);
    expect(counted).toEqual([1, 2]);
    expect(getEventListeners(shutdown.signal, 'abort')).toEqual([]);
  });

  it('keeps ctx.signal following the request after the procedure has returned: a subscription behind it stops when its client leaves, and leaves no listener', async () => {
    const ticks = new EventEmitter();
    let subscribed = false;
    let stopped = false;
    const router = t.router({
      ticks: t.procedure.use(timeoutMiddleware({ ms: 60_000 })).subscription(async function* ({ ctx }) {
        subscribed = true;
        ctx.signal.addEventListener('abort', () => (stopped = true));
        for await (const [n] of on(ticks, 'tick', { signal: ctx.signal })) yield n as number;
      }),
    });
    const url = await serve(router);
    const client = new AbortController();
    const stream = (await fetch(`${url}/ticks`, { signal: client.signal })).body!.getReader(); // SSE
    await until(() => subscribed, 'the subscription to start');
    ticks.emit('tick', 1);
    await stream.read();
    client.abort();
    await until(() => stopped, 'ctx.signal to abort');
    await until(() => ticks.listenerCount('tick') === 0, 'the listener to go');
  });

  it('keeps ctx.signal following the request for a legacy Observable subscription too: it aborts when its client leaves', async () => {
    let subscribed = false;
    let stopped = false;
    const router = t.router({
      ticks: t.procedure.use(timeoutMiddleware({ ms: 60_000 })).subscription(({ ctx }) =>
        observable<number>((emit) => {
          subscribed = true;
          ctx.signal.addEventListener('abort', () => (stopped = true));
          emit.next(1);
          return () => {};
        }),
      ),
    });
    const url = await serve(router);
    const client = new AbortController();
    const stream = (await fetch(`${url}/ticks`, { signal: client.signal })).body!.getReader(); // SSE
    await until(() => subscribed, 'the subscription to start');
    await stream.read();
    client.abort();
    await until(() => stopped, 'ctx.signal to abort');
  });

  it('lets go of the request’s signal once an Observable subscription completes, fails or is unsubscribed; ctx.signal aborts only when unsubscribed before its end', async () => {
    const shutdown = new AbortController();
    const signals: Record<string, AbortSignal> = {};
    const bounded = t.procedure.use(timeoutMiddleware({ ms: 60_000 }));
    const router = t.router({
      count: bounded.subscription(({ ctx }) =>
        observable<number>((emit) => {
          signals.count = ctx.signal;
          emit.next(1);
          emit.complete();
        }),
      ),
      fails: bounded.subscription(({ ctx }) =>
        observable<number>((emit) => {
          signals.fails = ctx.signal;
          emit.error(new Error('gone'));
        }),
      ),
      endless: bounded.subscription(({ ctx }) => observable<number>(() => void (signals.endless = ctx.signal))),
    });
    const caller = t.createCallerFactory(router)({ userId: 'u1' }, { signal: shutdown.signal });
    const heard: unknown[] = [];
    type Source = ReturnType<typeof observable<number>>;
    for (const call of [() => caller.count(), () => caller.fails()]) {
      ((await call()) as unknown as Source).subscribe({
        next: (n) => heard.push(n),
        error: (e) => heard.push((e as Error).message),
      });
    }
    ((await caller.endless()) as unknown as Source).subscribe({}).unsubscribe();
    expect(heard).toEqual([1, 'gone']);
    expect(getEventListeners(shutdown.signal, 'abort')).toEqual([]);
    expect([signals.count?.aborted, signals.fails?.aborted, signals.endless?.aborted]).toEqual([false, false, true]);
  });
});

describe('idempotentMutation', () => {
  function app(resolver: (input: { item: number }) => Promise<unknown> | unknown) {
    let runs = 0;
    const router = t.router({
      order: t.procedure
        .input((raw) => raw as { item: number; idempotencyKey?: string })
        .mutation(
          idempotentMutation({ scope: ({ ctx }) => ctx.userId }, ({ input }) => {
            runs++;
            return resolver(input);
          }),
        ),
    });
    return { router, runs: () => runs };
  }

  type OrderRouter = ReturnType<typeof app>['router'];
  const clientOf = (url: string) => createTRPCClient<OrderRouter>({ links: [httpLink({ url })] });

  it('runs a key’s mutation once and replays its result', async () => {
    const { router, runs } = app(({ item }) => ({ id: `order-${item}` }));
    const client = clientOf(await serve(router));
    const first = await client.order.mutate({ item: 1, idempotencyKey: 'k-1' });
    const again = await client.order.mutate({ item: 1, idempotencyKey: 'k-1' });
    expect([first, again]).toEqual([{ id: 'order-1' }, { id: 'order-1' }]);
    expect(runs()).toBe(1);
    expect(heard).toEqual([{ decision: 'replayed' }]);
  });

  it('answers a repeat while the first runs with CONFLICT (409), another input with UNPROCESSABLE_CONTENT (422)', async () => {
    let release: (() => void) | undefined;
    const { router } = app(() => new Promise((resolve) => (release = () => resolve('done'))));
    const client = clientOf(await serve(router));
    const first = client.order.mutate({ item: 1, idempotencyKey: 'k-2' });
    await until(() => release !== undefined, 'the first call to run');
    const conflict = await failure(client.order.mutate({ item: 1, idempotencyKey: 'k-2' }));
    expect(conflict.data).toMatchObject({ code: 'CONFLICT', httpStatus: 409, idempotencyKeyInUse: true });
    release!();
    expect(await first).toBe('done');
    const reused = await failure(client.order.mutate({ item: 2, idempotencyKey: 'k-2' }));
    expect(reused.data).toMatchObject({ code: 'UNPROCESSABLE_CONTENT', httpStatus: 422 });
    expect(reused.data?.idempotencyKeyInUse).toBeUndefined();
    expect(heard).toEqual([{ decision: 'idempotency_conflict' }, { decision: 'idempotency_conflict' }]);
  });

  it('answers the same key on another procedure through one shared idempotency with UNPROCESSABLE_CONTENT (422) that says so, running nothing', async () => {
    const shared = idempotency();
    let runs = 0;
    const keyed = t.procedure.input((raw) => raw as { idempotencyKey: string; amount: number });
    const router = t.router({
      pay: keyed.mutation(idempotentMutation({ idempotency: shared }, () => ++runs)),
      refund: keyed.mutation(idempotentMutation({ idempotency: shared }, () => ++runs)),
    });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: await serve(router) })] });
    expect(await client.pay.mutate({ idempotencyKey: 'k-3', amount: 5 })).toBe(1);
    const reused = await failure(client.refund.mutate({ idempotencyKey: 'k-3', amount: 5 }));
    // Before: "used with another input", though the input was the same.
    expect([reused.data?.httpStatus, reused.message]).toEqual([
      422,
      'This idempotency key was used with another procedure or input',
    ]);
    expect(runs).toBe(1);
  });

  it('refuses a call without a key (BAD_REQUEST) unless the key is optional', async () => {
    const { router, runs } = app(() => 'ran');
    const client = clientOf(await serve(router));
    expect((await failure(client.order.mutate({ item: 1 }))).data).toMatchObject({ code: 'BAD_REQUEST' });
    expect(runs()).toBe(0);
    const optional = idempotentMutation({ required: false }, () => 'ran without a key');
    expect(await optional({ input: { item: 1 }, path: 'order' })).toBe('ran without a key');
  });

  it('refuses a key that is there but not one (empty, a number, an object) with BAD_REQUEST, even when keys are optional: it is never run unprotected', async () => {
    let runs = 0;
    const router = t.router({
      order: t.procedure
        .input((raw) => raw as { idempotencyKey?: unknown })
        .mutation(idempotentMutation({ required: false }, () => ++runs)),
    });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: await serve(router) })] });
    for (const idempotencyKey of ['', 42, { id: 'k' }, ['k'], true]) {
      const refused = await failure(client.order.mutate({ idempotencyKey }));
      expect(refused.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
      expect(refused.message).toBe('The idempotency key must be a string of 1 to 255 characters');
    }
    expect(runs).toBe(0);
    // A control character: no Idempotency-Key header holds one, and core's events carry the key
    // as it is (a line break in it would forge a line of the log an onEvent listener writes).
    for (const idempotencyKey of ['k1\n[WARN] payment refunded', 'k1\r', 'k\u0000', 'k\u007f', 'k\u0085']) {
      const refused = await failure(client.order.mutate({ idempotencyKey }));
      expect(refused.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
      expect(refused.message).toBe('The idempotency key must be well-formed text');
    }
    expect(runs).toBe(0);
    // Any other text is a key: letters of every script, an emoji (a surrogate pair), spaces.
    expect(await client.order.mutate({ idempotencyKey: 'заказ 1 😀' })).toBe(1);
    runs = 0;
    // Absent (or null) is no key: optional, so it runs, once per call.
    expect([await client.order.mutate({}), await client.order.mutate({ idempotencyKey: null })]).toEqual([1, 2]);
  });

  it('replays the caller’s own mistake (a 4xx), but runs again after a server error', async () => {
    const outcomes = [
      new TRPCError({ code: 'NOT_FOUND', message: 'no item 9' }),
      new TRPCError({ code: 'SERVICE_UNAVAILABLE' }),
    ];
    const { router, runs } = app(() => {
      throw outcomes.shift() ?? new Error('unexpected');
    });
    const client = clientOf(await serve(router));
    for (let i = 0; i < 2; i++) {
      const error = await failure(client.order.mutate({ item: 9, idempotencyKey: 'k-404' }));
      expect([error.data?.code, error.message]).toEqual(['NOT_FOUND', 'no item 9']);
    }
    expect(runs()).toBe(1);
    expect(heard).toEqual([{ decision: 'replayed' }]); // the recorded 404, sent again
    expect((await failure(client.order.mutate({ item: 9, idempotencyKey: 'k-503' }))).data?.httpStatus).toBe(503);
    expect((await failure(client.order.mutate({ item: 9, idempotencyKey: 'k-503' }))).message).toBe('unexpected');
    expect(runs()).toBe(3);
  });

  it('keeps one user’s keys from another’s (scope)', async () => {
    let n = 0;
    const router = t.router({
      order: t.procedure
        .input((raw) => raw as { idempotencyKey: string })
        .mutation(idempotentMutation({ scope: ({ ctx }) => ctx.userId }, () => ++n)),
    });
    const a = createTRPCClient<typeof router>({ links: [httpLink({ url: await serve(router, 'alice') })] });
    expect(await a.order.mutate({ idempotencyKey: 'same' })).toBe(1);
    await server!.close();
    const b = createTRPCClient<typeof router>({ links: [httpLink({ url: await serve(router, 'bob') })] });
    expect(await b.order.mutate({ idempotencyKey: 'same' })).toBe(2);
  });

  it('keeps a scope core would refuse (over 1 024 characters, a lone surrogate) as its digest: no error, scopes apart', async () => {
    let n = 0;
    const router = t.router({
      order: t.procedure
        .input((raw) => raw as { idempotencyKey: string })
        .mutation(idempotentMutation({ scope: ({ ctx }) => ctx.userId }, () => ++n)),
    });
    const as = async (user: string) => {
      await server?.close();
      const client = createTRPCClient<typeof router>({ links: [httpLink({ url: await serve(router, user) })] });
      return client.order.mutate({ idempotencyKey: 'same' });
    };
    const long = 't'.repeat(1_025);
    expect(await as(long)).toBe(1);
    expect(await as(`${long}!`)).toBe(2);
    expect(await as('\uD800x')).toBe(3);
    expect(await as('\uDC00x')).toBe(4); // the same UTF-8 as the one before, each surrogate replaced
    expect([await as(long), await as('\uDC00x')]).toEqual([1, 4]);
  });

  it('awaits a key and a scope that are promises (a header or a session looked up)', async () => {
    let n = 0;
    const router = t.router({
      order: t.procedure.mutation(
        idempotentMutation(
          {
            key: async () => 'from-a-lookup',
            scope: async (opts) => (opts as unknown as { ctx: { userId: string } }).ctx.userId,
          },
          () => ++n,
        ),
      ),
    });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: await serve(router, 'alice') })] });
    expect([await client.order.mutate(), await client.order.mutate()]).toEqual([1, 1]);
  });

  it.each([
    ['an empty string', ''],
    ['number', 7],
  ])(
    'refuses a scope that returns %s with an error naming scope, told once to the logger, and runs nothing (never one scope for all)',
    async (received, scope) => {
      let n = 0;
      const { logger, told } = listening();
      const router = t.router({
        order: t.procedure
          .input((raw) => raw as { idempotencyKey: string })
          .mutation(idempotentMutation({ scope: () => scope as string, logger }, () => ++n)),
      });
      const client = createTRPCClient<typeof router>({ links: [httpLink({ url: await serve(router, 'alice') })] });
      const message = `idempotentMutation: scope returned ${received}: return a non-empty string (whose key it is: a user or tenant id), or undefined for one scope for all`;
      for (let i = 0; i < 2; i++) {
        const error = await failure(client.order.mutate({ idempotencyKey: 'same' }));
        expect([error.data?.httpStatus, error.message]).toEqual([500, message]);
      }
      // tRPC logs no call's error by itself: without this line the server's operator saw nothing.
      expect(told).toEqual([[{ path: 'order' }, message]]);
      expect(n).toBe(0);
    },
  );

  it('replays the caller’s own mistake whatever records it (an idempotency() of your own) and whatever threw it', async () => {
    // docs/trpc.md passes an idempotency() of its own, which records no error by default; an
    // error with its own 404 status is answered 404 by errorFormatter: the caller's mistake too.
    let runs = 0;
    const keyed = t.procedure.input((raw) => raw as { idempotencyKey: string });
    const router = t.router({
      own: keyed.mutation(
        idempotentMutation({ idempotency: idempotency({ store: memoryStore({ maxKeys: 100 }) }) }, () => {
          runs++;
          throw new TRPCError({ code: 'NOT_FOUND', message: 'no item 9' });
        }),
      ),
      status: keyed.mutation(
        idempotentMutation({}, () => {
          runs++;
          throw Object.assign(new Error('no card 4'), { status: 404 });
        }),
      ),
    });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: await serve(router) })] });
    for (const [call, message] of [
      [() => client.own.mutate({ idempotencyKey: 'k' }), 'no item 9'],
      [() => client.status.mutate({ idempotencyKey: 'k' }), 'no card 4'],
    ] as const) {
      for (let i = 0; i < 2; i++) {
        const error = await failure(call());
        expect([error.data?.code, error.data?.httpStatus, error.message]).toEqual(['NOT_FOUND', 404, message]);
      }
    }
    expect(runs).toBe(2);
    expect(heard).toEqual([{ decision: 'replayed' }, { decision: 'replayed' }]);
  });

  it('frees the key of an answer that tells the caller to retry (408, 429) or that nobody heard (499)', async () => {
    const outcomes: unknown[] = [
      new TRPCError({ code: 'TIMEOUT' }),
      new TRPCError({ code: 'TOO_MANY_REQUESTS' }),
      new TRPCError({ code: 'CLIENT_CLOSED_REQUEST' }),
      new DOMException('The operation was aborted', 'AbortError'),
    ];
    const { router, runs } = app(() => {
      const next = outcomes.shift();
      if (next === undefined) return 'done';
      throw next;
    });
    const client = clientOf(await serve(router));
    for (const status of [408, 429, 499, 499]) {
      expect((await failure(client.order.mutate({ item: 1, idempotencyKey: 'k-retry' }))).data?.httpStatus).toBe(
        status,
      );
    }
    expect(await client.order.mutate({ item: 1, idempotencyKey: 'k-retry' })).toBe('done');
    expect(runs()).toBe(5);
  });

  it('frees the key of a CONFLICT whose cause is another key still in flight (the resolver’s own idempotent call): it says come back, and is marked so', async () => {
    const outcomes: unknown[] = [new IdempotencyConflictError('in_flight')];
    const { router, runs } = app(() => {
      const next = outcomes.shift();
      if (next === undefined) return 'done';
      throw next;
    });
    const client = clientOf(await serve(router));
    const busy = await failure(client.order.mutate({ item: 1, idempotencyKey: 'k-busy' }));
    expect(busy.data).toMatchObject({ code: 'CONFLICT', httpStatus: 409, idempotencyKeyInUse: true });
    expect(await client.order.mutate({ item: 1, idempotencyKey: 'k-busy' })).toBe('done');
    expect(runs()).toBe(2);
  });

  it('tells inputs apart by what a transformer carries (Set, Map, BigInt, NaN, Error), and refuses one with no fingerprint', async () => {
    // A transformer of the kind superjson is: it revives a Set, a Map and a BigInt.
    const revive = (value: unknown): unknown => {
      if (typeof value !== 'object' || value === null) return value;
      const v = value as Record<string, unknown>;
      if (Array.isArray(v.$set)) return new Set(v.$set.map(revive));
      if (Array.isArray(v.$map))
        return new Map((v.$map as [unknown, unknown][]).map(([k, x]) => [revive(k), revive(x)]));
      if (typeof v.$bigint === 'string') return BigInt(v.$bigint);
      if (typeof v.$number === 'string') return Number(v.$number);
      if (typeof v.$error === 'string') return new Error(v.$error); // superjson revives an Error's name and message
      return Array.isArray(value)
        ? value.map(revive)
        : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
    };
    const transformer = { serialize: (value: unknown) => value, deserialize: revive };
    const tx = initTRPC.create({ transformer, errorFormatter: errorFormatter() });
    let runs = 0;
    const router = tx.router({
      order: tx.procedure
        .input((raw) => raw as { idempotencyKey: string })
        .mutation(idempotentMutation({}, () => ++runs)),
    });
    server = await startServer({ router, responseMeta: responseMeta() });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: server.url, transformer })] });
    const order = (extra: Record<string, unknown>, idempotencyKey = 'k') =>
      client.order.mutate({ idempotencyKey, ...extra });
    expect(await order({ tags: { $set: ['a'] } })).toBe(1);
    expect((await failure(order({ tags: { $set: ['b'] } }))).data?.code).toBe('UNPROCESSABLE_CONTENT');
    expect(await order({ tags: { $set: ['a'] } })).toBe(1);
    expect(await order({ prices: { $map: [['a', 1]] } }, 'k-map')).toBe(2);
    expect((await failure(order({ prices: { $map: [['a', 2]] } }, 'k-map'))).data?.code).toBe('UNPROCESSABLE_CONTENT');
    expect(await order({ cents: { $bigint: '1' } }, 'k-big')).toBe(3);
    expect((await failure(order({ cents: { $bigint: '2' } }, 'k-big'))).data?.code).toBe('UNPROCESSABLE_CONTENT');
    expect(await order({ rate: null }, 'k-nan')).toBe(4); // NaN is null to JSON
    expect((await failure(order({ rate: { $number: 'NaN' } }, 'k-nan'))).data?.code).toBe('UNPROCESSABLE_CONTENT');
    expect(await order({ reason: { $error: 'lost' } }, 'k-error')).toBe(5); // an Error is {} to JSON
    expect(await order({ reason: { $error: 'lost' } }, 'k-error')).toBe(5);
    expect((await failure(order({ reason: { $error: 'stolen' } }, 'k-error'))).data?.code).toBe(
      'UNPROCESSABLE_CONTENT',
    );
    let deep: unknown = 1;
    for (let i = 0; i < 600; i++) deep = { deep };
    const refused = await failure(order({ deep }, 'k-deep'));
    expect([refused.data?.code, refused.data?.httpStatus]).toEqual(['BAD_REQUEST', 400]);
    expect(runs).toBe(5);
  });

  it('reads an object the input holds many times once (superjson’s shared references): a DAG of 2^64 leaves has a fingerprint', async () => {
    // Revives { $dag: n } as n levels of [x, x] over one leaf, as superjson's referentialEqualities do from a few KB.
    let reads = 0;
    const revive = (raw: unknown): unknown => {
      const { $dag, ...rest } = raw as { $dag: number };
      let x: unknown = Object.defineProperty({}, 'leaf', {
        enumerable: true,
        get: () => {
          reads++;
          return 'book';
        },
      });
      for (let i = 0; i < $dag; i++) x = [x, x];
      return { ...rest, x };
    };
    const same = { serialize: (value: unknown) => value, deserialize: (value: unknown) => value };
    const transformer = { input: { ...same, deserialize: revive }, output: same };
    const tx = initTRPC.create({ transformer, errorFormatter: errorFormatter() });
    let runs = 0;
    const router = tx.router({
      order: tx.procedure
        .input((raw) => raw as { idempotencyKey: string; $dag: number })
        .mutation(idempotentMutation({}, () => ++runs)),
    });
    server = await startServer({ router });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: server.url, transformer })] });
    const order = ($dag: number, idempotencyKey = 'k-dag') => client.order.mutate({ idempotencyKey, $dag });
    expect(await order(10, 'k-small')).toBe(1);
    expect(reads).toBe(1); // not 1 024 times
    expect(await order(64)).toBe(2);
    expect(await order(64)).toBe(2);
    expect((await failure(order(63))).data?.code).toBe('UNPROCESSABLE_CONTENT');
  });

  it('does not run a timed-out mutation again for its retry: CONFLICT while it runs, then its result', async () => {
    const clock = new FakeClock();
    const records = idempotency();
    let runs = 0;
    let release: ((value: string) => void) | undefined;
    const router = t.router({
      order: t.procedure
        .use(timeoutMiddleware({ ms: 1_000, clock }))
        .input((raw) => raw as { idempotencyKey: string })
        .mutation(
          idempotentMutation({ idempotency: records }, () => {
            runs++;
            return new Promise<string>((resolve) => (release = resolve)); // ignores ctx.signal
          }),
        ),
    });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: await serve(router) })] });
    const first = failure(client.order.mutate({ idempotencyKey: 'k-slow' }));
    await until(() => release !== undefined, 'the mutation to start');
    await clock.advance(1_000);
    expect((await first).data?.code).toBe('TIMEOUT');
    expect((await failure(client.order.mutate({ idempotencyKey: 'k-slow' }))).data?.code).toBe('CONFLICT');
    release!('ordered');
    await until(() => records.inFlight === 0, 'the first run to be recorded');
    expect(await client.order.mutate({ idempotencyKey: 'k-slow' })).toBe('ordered');
    expect(runs).toBe(1);
  });

  it('rejects bad options and keys, naming them', async () => {
    expect(() => idempotentMutation({ required: 'yes' } as never, () => 1)).toThrow(/required/);
    expect(() => idempotentMutation({}, undefined as never)).toThrow(/resolver/);
    expect(() => idempotentMutation(undefined as never, () => 1)).not.toThrow(); // the defaults, as {}
    expect(() => idempotentMutation({ idempotency: { ttlMs: -1 } }, () => 1)).toThrow(
      /^Invalid idempotentMutation options: idempotency.ttlMs: received -1/,
    );
    // No key could be both: every call would be refused.
    expect(() => idempotentMutation({ minKeyLength: 300 }, () => 1)).toThrow(
      /^Invalid idempotentMutation options: minKeyLength: received 300, expected at most maxKeyLength \(255\)/,
    );
    // Longer than core keeps: every call with such a key would be a 500 (core's error, echoing the key), not a 400.
    expect(() => idempotentMutation({ maxKeyLength: 1_025 }, () => 1)).toThrow(
      /^Invalid idempotentMutation options: maxKeyLength: received 1025, expected an integer >= 1 <= 1024/,
    );
    const strict = idempotentMutation({ minKeyLength: 16 }, () => 1);
    await expect(strict({ input: { idempotencyKey: 'short' }, path: 'x' })).rejects.toThrow(
      /a string of 16 to 255 characters/,
    );
    // Not text (a lone surrogate): a store that writes UTF-8 (Redis) would read two such keys as one.
    const wellFormed = idempotentMutation({}, () => 1);
    await expect(wellFormed({ input: { idempotencyKey: 'order-\uD800' }, path: 'x' })).rejects.toThrow(/well-formed/);
  });
});

import { Readable } from 'node:stream';
import {
  BrokenCircuitError,
  backoff,
  ConfigurationError,
  classify,
  consecutive,
  errorResponse,
  isIdempotentRequest,
  resilienceDetails,
  ThrottledError,
  TimeoutError,
} from '@resilience/core';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import axios, {
  AxiosError,
  type AxiosRequestConfig,
  type CreateAxiosDefaults,
  type InternalAxiosRequestConfig,
} from 'axios';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { countControllers, restoreAbortController } from '../../core/src/testing/abort-controllers.js';
import {
  answer,
  cut,
  drive,
  drop,
  hang,
  raw,
  type ScriptServer,
  scriptServer,
  until,
} from '../../fetch/src/testing/server.js';
import { AXIOS_DEFAULTS, type ResilientAxiosOptions, withResilience } from './index.js';

let server: ScriptServer;
afterEach(() => server?.close());
afterEach(restoreAbortController);

/** A resilient axios instance for the server, on a fake clock that only moves when the test says, jitter drawn as 0. */
function resilient(options: ResilientAxiosOptions = {}, clock = new FakeClock(), defaults: CreateAxiosDefaults = {}) {
  const api = withResilience(axios.create({ baseURL: server.url, ...defaults }), {
    clock,
    random: sequenceRandom(0),
    ...options,
  });
  return { clock, api };
}

/** Resolves once a policy waits on the fake clock (a retry's backoff, a limiter). */
const waiting = (clock: FakeClock) => until(() => clock.pendingTimers > 0, 'a wait on the clock');

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );

describe('withResilience(axios) against a real server', () => {
  it('retries a 503, then resolves with the 200', async () => {
    server = await scriptServer(answer(503), answer(200, { ok: true }));
    const { clock, api } = resilient({ random: sequenceRandom(0.5) });
    const pending = api.get('/items');
    await waiting(clock);
    await clock.advance(49); // the backoff's full jitter: 0.5 (the draw) × 100 ms before the first retry
    expect(server.seen).toHaveLength(1);
    await clock.advance(1);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(response.data).toEqual({ ok: true });
    expect(server.seen).toHaveLength(2);
    expect(resilienceDetails(response)).toEqual({ host: server.host, attempts: 2, totalDelayMs: 50 });
  });

  it('retries a dropped connection', async () => {
    server = await scriptServer(drop, answer(200));
    const { clock, api } = resilient();
    const pending = api.get('/items');
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it('waits for a 429’s Retry-After in seconds', async () => {
    server = await scriptServer(answer(429, {}, { 'retry-after': '2' }), answer(200));
    const { clock, api } = resilient();
    const pending = api.get('/items');
    await waiting(clock);
    await clock.advance(1_999);
    expect(server.seen).toHaveLength(1);
    await clock.advance(1);
    expect((await pending).status).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it('waits for a 429’s Retry-After as an HTTP-date', async () => {
    const start = Date.parse('2025-06-01T12:00:00Z');
    server = await scriptServer(answer(429, {}, { 'retry-after': new Date(start + 3_000).toUTCString() }), answer(200));
    const { clock, api } = resilient({}, new FakeClock(start));
    const pending = api.get('/items');
    await waiting(clock);
    await clock.advance(2_999);
    expect(server.seen).toHaveLength(1);
    await clock.advance(1);
    expect((await pending).status).toBe(200);
  });

  it('gives up at once on a Retry-After beyond the cap, with the axios error', async () => {
    server = await scriptServer(answer(503, { down: true }, { 'retry-after': '120' }));
    const { api } = resilient({ retry: { retryAfter: { maxMs: 60_000 } } });
    const error = await failure(api.get('/items'));
    expect(server.seen).toHaveLength(1);
    expect(axios.isAxiosError(error)).toBe(true);
    expect((error as AxiosError).response?.status).toBe(503);
    expect((error as AxiosError).response?.data).toEqual({ down: true });
    expect(resilienceDetails(error)).toEqual({ host: server.host, attempts: 1, totalDelayMs: 0 });
  });

  it('rejects with the last axios error, its body parsed, resilience details attached', async () => {
    server = await scriptServer(answer(503, { error: 'overloaded' }));
    const { clock, api } = resilient({ retry: { maxAttempts: 2 }, random: sequenceRandom(0.5) });
    const pending = failure(api.get('/items'));
    await waiting(clock);
    await clock.advance(50); // the backoff's full jitter: 0.5 × 100 ms
    const error = await pending;
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).response?.data).toEqual({ error: 'overloaded' });
    expect(resilienceDetails(error)).toEqual({ host: server.host, attempts: 2, totalDelayMs: 50 });
    expect(server.seen).toHaveLength(2);
  });

  it('the axios error a provider’s 401 or 429 rejects with is answered 502 by errorResponse, not passed on as this server’s', async () => {
    for (const status of [401, 429]) {
      server = await scriptServer(answer(status, { error: 'no' }));
      const error = await failure(resilient({ retry: { maxAttempts: 1 } }).api.get('/items'));
      expect((error as AxiosError).status).toBe(status); // axios ≥ 1.7 copies it onto the error
      const answered = errorResponse(error, { correlationId: 'c' });
      expect(answered.status).toBe(502);
      expect(answered.headers['www-authenticate']).toBeUndefined();
      expect(answered.headers['retry-after']).toBeUndefined();
      server.close();
    }
  });

  it('retries a 503 that validateStatus accepts, and resolves with the last one', async () => {
    server = await scriptServer(answer(503), answer(503, { still: 'down' }));
    const { clock, api } = resilient({ retry: { maxAttempts: 2 } });
    const pending = api.get('/items', { validateStatus: () => true });
    await waiting(clock);
    await clock.advance(100);
    const response = await pending;
    expect(response.status).toBe(503);
    expect(response.data).toEqual({ still: 'down' });
    expect(server.seen).toHaveLength(2);
  });

  it.each([
    ['rejected (an AxiosError)', undefined],
    ['resolved (validateStatus accepts it)', () => true],
  ])('releases a retried response’s stream body as the retry goes out, %s', async (_, validateStatus) => {
    server = await scriptServer(answer(503), answer(200));
    const released: boolean[] = [];
    let body: Readable | undefined;
    const { clock, api } = resilient({
      retry: {
        onRetry: ({ error }) => {
          // an AxiosError, or the client's HttpStatusError for a resolved answer: both carry the response
          body = (error as AxiosError).response!.data as Readable;
          released.push(body.destroyed);
        },
      },
    });
    const pending = api.get('/stream', { responseType: 'stream', ...(validateStatus && { validateStatus }) });
    await waiting(clock);
    expect(released).toEqual([false]); // held through the wait: a refused retry leaves it the answer
    await clock.advance(100);
    const response = await pending;
    expect(body!.destroyed).toBe(true);
    expect(response.status).toBe(200);
    (response.data as Readable).destroy();
  });

  it('sends a POST once, unless it carries an Idempotency-Key', async () => {
    server = await scriptServer(answer(503), answer(201));
    const { clock, api } = resilient();
    expect(((await failure(api.post('/orders', { item: 1 }))) as AxiosError).response?.status).toBe(503);
    expect(server.seen).toHaveLength(1);
    server.script(answer(503), answer(201));
    const keyed = api.post('/orders', { item: 1 }, { headers: { 'Idempotency-Key': '"o-1"' } });
    await waiting(clock);
    await clock.advance(100);
    expect((await keyed).status).toBe(201);
    expect(server.seen.slice(1).map((s) => s.headers['idempotency-key'])).toEqual(['"o-1"', '"o-1"']);
  });

  it('idempotencyKey: true sends one generated key on every attempt of a POST', async () => {
    server = await scriptServer(answer(503), answer(201));
    const { clock, api } = resilient({ idempotencyKey: true });
    const pending = api.post('/orders', { item: 1 }, { headers: { authorization: 'Bearer t' } });
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).status).toBe(201);
    const [first, second] = server.seen;
    expect(first!.headers['idempotency-key']).toBe('"00000000-0000-4000-8000-000000000000"');
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
    expect(second!.headers.authorization).toBe('Bearer t');
    expect([first!.body, second!.body]).toEqual(['{"item":1}', '{"item":1}']);
  });

  it('a per-request opt-out: idempotent reads a config key of your own (axios-retry’s retries: 0 for one request)', async () => {
    server = await scriptServer(answer(503));
    const { api } = resilient({
      idempotent: (config) =>
        config.retry !== false &&
        isIdempotentRequest(config.method ?? 'get', config.headers.get('idempotency-key') as string | null),
    });
    const error = (await failure(api.get('/items', { retry: false }))) as AxiosError;
    expect(error.response?.status).toBe(503);
    expect(resilienceDetails(error)?.attempts).toBe(1);
    expect(server.seen).toHaveLength(1);
  });

  it('refuses axios-retry’s per-request key, which none of ours reads, before sending anything', async () => {
    server = await scriptServer(answer(503));
    const { api } = resilient();
    const error = await failure(api.get('/items', { 'axios-retry': { retries: 0 } } as AxiosRequestConfig));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(["config['axios-retry']"]);
    expect((error as Error).message).toMatch(/read a config key of your own in idempotent/);
    expect(server.seen).toHaveLength(0);
  });

  it.each([
    [
      'on the request',
      (api: ReturnType<typeof resilient>['api'], f: typeof fetch) => api.get('/items', { env: { fetch: f } }),
    ],
    [
      'set on the instance after withResilience',
      (api: ReturnType<typeof resilient>['api'], f: typeof fetch) => {
        api.defaults.env = { ...api.defaults.env, fetch: f };
        return api.get('/items');
      },
    ],
  ])(
    'refuses a request whose fetch adapter sends through a resilient fetch (%s) before sending anything: no 4 × 4 calls',
    async (_where, send) => {
      server = await scriptServer(answer(503));
      const { api } = resilient({ retry: false }, new FakeClock(), { adapter: 'fetch' });
      const resilientFetch = Object.assign((...args: Parameters<typeof fetch>) => fetch(...args), {
        [Symbol.for('@resilience/fetch.wraps')]: true, // as @resilience/fetch's withResilience marks it
      });
      const error = await failure(send(api, resilientFetch));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['env.fetch']);
      expect((error as Error).message).toMatch(/the plain fetch: this instance retries already/);
      expect(server.seen).toHaveLength(0); // before, it went: 4 × 4 requests to a host that keeps failing
    },
  );

  it.each(['before', 'after'])(
    'refuses a request of an instance axios-retry is still installed on (%s withResilience): no 4 × 4 calls',
    async (order) => {
      server = await scriptServer(answer(503));
      const instance = axios.create({ baseURL: server.url });
      // What axiosRetry(instance) installs first: a request interceptor keeping its state on the config.
      const likeAxiosRetry = () =>
        instance.interceptors.request.use((config) => Object.assign(config, { 'axios-retry': { retryCount: 0 } }));
      if (order === 'before') likeAxiosRetry();
      const api = withResilience(instance, { clock: new FakeClock() });
      if (order === 'after') likeAxiosRetry();
      const error = await failure(api.get('/items'));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toMatch(/remove axiosRetry\(\) from the instance/);
      expect(server.seen).toHaveLength(0);
    },
  );

  it('idempotent: () => true retries a POST that only reads (an LLM completion)', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { clock, api } = resilient({ idempotent: (config) => config.url === '/v1/chat/completions' });
    const pending = api.post('/v1/chat/completions', { prompt: 'hi' });
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it('runs the instance’s interceptors and transforms once, however many attempts', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { clock, api } = resilient();
    let requests = 0;
    let responses = 0;
    let transforms = 0;
    api.interceptors.request.use((config) => {
      requests++;
      config.headers.set('x-signature', `${config.headers.get('x-signature') ?? ''}sig`);
      return config;
    });
    api.interceptors.response.use((response) => {
      responses++;
      return response;
    });
    const pending = api.put(
      '/items/1',
      { n: 1 },
      {
        transformRequest: [
          (data) => {
            transforms++;
            return JSON.stringify(data);
          },
        ],
      },
    );
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect({ requests, responses, transforms }).toEqual({ requests: 1, responses: 1, transforms: 1 });
    expect(server.seen.map((s) => s.headers['x-signature'])).toEqual(['sig', 'sig']);
    expect(server.seen.map((s) => s.body)).toEqual(['{"n":1}', '{"n":1}']);
  });

  it('gives every attempt a fresh config: what one attempt changes, the next does not see', async () => {
    server = await scriptServer(answer(503), answer(200));
    const configs: InternalAxiosRequestConfig[] = [];
    const http = axios.getAdapter('http');
    const { clock, api } = resilient({}, new FakeClock(), {
      adapter: (config) => {
        configs.push(config);
        const seen = config.headers.get('x-mutated');
        config.headers.set('x-mutated', 'by the first attempt');
        return http(seen === undefined ? config : { ...config, url: '/leaked' });
      },
    });
    const pending = api.get('/items');
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen.map((s) => s.url)).toEqual(['/items', '/items']);
    expect(configs[0]).not.toBe(configs[1]);
    expect(configs[0]!.headers).not.toBe(configs[1]!.headers);
  });

  it('copies the config down to its prototype for a retry: axios’ null-prototype config stays one (nothing inherited from Object.prototype)', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { clock, api } = resilient();
    let seen: InternalAxiosRequestConfig | undefined;
    const tag = Symbol('tag');
    api.interceptors.request.use((config) => Object.assign((seen = config), { [tag]: 'kept' })); // runs before ours
    const pending = api.get('/items');
    await waiting(clock);
    await clock.advance(100);
    const sent = (await pending).config; // what the retry handed the adapter
    expect((sent as { [tag]?: string })[tag]).toBe('kept'); // symbol keys too, as a spread copies them
    expect(sent).not.toBe(seen);
    expect(Object.getPrototypeOf(seen)).toBe(null); // axios ≥ 1.21 guards its config so
    expect(Object.getPrototypeOf(sent)).toBe(null);
    const helper = Object.getOwnPropertyDescriptor(sent, 'hasOwnProperty'); // axios' hidden own helper is kept
    expect(helper).toMatchObject({ value: Object.prototype.hasOwnProperty, enumerable: false });
    expect(Object.keys(sent).sort()).toEqual(Object.keys(seen!).sort());
  });

  it('a retry of a timed request starts from the config as the interceptors left it: the first attempt’s token and headers are not carried over', async () => {
    server = await scriptServer(hang, answer(200));
    const { clock, api } = resilient({ timeout: 5_000, retry: { backoff: backoff.constant(0) } });
    let seen: InternalAxiosRequestConfig | undefined;
    api.interceptors.request.use((config) => (seen = config));
    const pending = api.get('/slow', { headers: { 'x-kept': 'yes' } });
    await server.requests(1);
    const first = seen!.cancelToken; // the first attempt's, cancelled at the timeout
    seen!.headers.set('x-first-attempt', 'changed'); // as an adapter may change the headers it was given
    await clock.advance(5_000);
    const sent = (await pending).config; // the retry's: had it the first attempt's token, cancelled, it would have failed
    expect(first).toBeDefined();
    expect(sent.cancelToken).toBeUndefined(); // the request's own (none), not the attempt's spent one
    expect(sent.headers.get('x-kept')).toBe('yes');
    expect(sent.headers.has('x-first-attempt')).toBe(false);
    expect(server.seen.map((s) => s.headers['x-first-attempt'])).toEqual([undefined, undefined]);
  });

  it('wraps an adapter chosen per request too', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { clock, api } = resilient();
    const pending = api.get('/items', { adapter: 'fetch' });
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it('gives up a slow response at the attempt timeout (the request is aborted) and retries', async () => {
    server = await scriptServer(hang, answer(200));
    const { clock, api } = resilient({ timeout: 5_000, retry: { backoff: backoff.constant(0) } });
    const pending = api.get('/slow');
    await server.requests(1);
    await clock.advance(5_000);
    expect((await pending).status).toBe(200);
    await until(() => server.seen[0]!.aborted, 'the first request to be aborted');
    expect(server.seen).toHaveLength(2);
  });

  it('creates no AbortController for a timed request that succeeds: axios’ adapter is cancelled through a token', async () => {
    server = await scriptServer(answer(200));
    const { api } = resilient({ timeout: 5_000, breaker: { strategy: consecutive(5) } });
    const controllers = countControllers();
    const response = await api.get('/items');
    expect(response.status).toBe(200);
    expect(controllers.count).toBe(0);
    expect(response.config.signal).toBeUndefined(); // the token stands in for it
  });

  it('aborts a slow response on the wire at the attempt timeout with the fetch adapter too', async () => {
    server = await scriptServer(hang);
    const { clock, api } = resilient({ timeout: 5_000, retry: false });
    const pending = failure(api.get('/slow', { adapter: 'fetch' }));
    await server.requests(1);
    await clock.advance(5_000);
    expect(await pending).toBeInstanceOf(TimeoutError);
    await until(() => server.seen[0]!.aborted, 'the request to be aborted');
  });

  it('hands a custom adapter a signal that the attempt timeout aborts', async () => {
    server = await scriptServer(hang);
    const signals: (AbortSignal | undefined)[] = [];
    const http = axios.getAdapter('http');
    const adapter = (config: InternalAxiosRequestConfig) => {
      signals.push(config.signal as AbortSignal | undefined);
      return http(config);
    };
    const { clock, api } = resilient({ timeout: 5_000, retry: false }, new FakeClock(), { adapter });
    const pending = failure(api.get('/slow'));
    await server.requests(1);
    await clock.advance(5_000);
    expect(await pending).toBeInstanceOf(TimeoutError);
    expect(signals[0]?.aborted).toBe(true);
    await until(() => server.seen[0]!.aborted, 'the request to be aborted');
  });

  it('the request’s signal aborts the attempt in flight, as an axios cancellation', async () => {
    server = await scriptServer(hang);
    const { api } = resilient({ timeout: 5_000 });
    const controller = new AbortController();
    const pending = failure(api.get('/slow', { signal: controller.signal }));
    await server.requests(1);
    controller.abort();
    expect(axios.isCancel(await pending)).toBe(true);
    await until(() => server.seen[0]!.aborted, 'the request to be aborted');
    expect(server.seen).toHaveLength(1);
  });

  it('the request’s signal still ends a streamed body after the headers came, as with axios, when attempts are timed', async () => {
    server = await scriptServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('partial'); // the rest never comes
    });
    const { api } = resilient({ timeout: 5_000 });
    const controller = new AbortController();
    const response = await api.get<Readable>('/stream', { responseType: 'stream', signal: controller.signal });
    response.data.on('error', () => {});
    controller.abort();
    await until(() => response.data.destroyed, 'the body to be destroyed');
    await until(() => server.seen[0]!.aborted, 'the request to be aborted');
  });

  it.each(['http', 'fetch'] as const)(
    'a streamed body is read in full past the attempt timeout and the deadline (%s adapter): they end at the headers',
    async (adapter) => {
      let rest: (() => void) | undefined;
      server = await scriptServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        rest = () => res.end('data: last\n\n');
      });
      const { clock, api } = resilient({ timeout: 5_000, deadlineMs: 10_000 });
      // A Node stream (http adapter) or a web stream (fetch adapter): both are async iterables of bytes.
      const response = await api.get<AsyncIterable<Uint8Array>>('/stream', {
        responseType: 'stream',
        adapter,
        signal: new AbortController().signal,
      });
      await clock.advance(60_000);
      rest!();
      let text = '';
      for await (const chunk of response.data) text += Buffer.from(chunk).toString();
      expect(text).toBe('data: first\n\ndata: last\n\n');
    },
  );

  it('the request’s own cancelToken still cancels the attempt in flight', async () => {
    server = await scriptServer(hang);
    const { api } = resilient({ timeout: 5_000 });
    const source = axios.CancelToken.source();
    const pending = failure(api.get('/slow', { cancelToken: source.token }));
    await server.requests(1);
    source.cancel('stop');
    const error = await pending;
    expect(axios.isCancel(error)).toBe(true);
    expect((error as Error).message).toBe('stop');
    await until(() => server.seen[0]!.aborted, 'the request to be aborted');
  });

  it('ends the whole request at deadlineMs, waits included', async () => {
    server = await scriptServer(hang);
    const { clock, api } = resilient({ deadlineMs: 3_000 });
    const pending = failure(api.get('/slow'));
    await server.requests(1);
    await clock.advance(3_000);
    const error = await pending;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(resilienceDetails(error)).toMatchObject({ attempts: 1 });
    await until(() => server.seen[0]!.aborted, 'the request to be aborted');
  });

  it('the request’s signal ends a wait at once, as an axios cancellation', async () => {
    server = await scriptServer(answer(503));
    const { clock, api } = resilient();
    const controller = new AbortController();
    const pending = failure(api.get('/items', { signal: controller.signal }));
    await waiting(clock);
    controller.abort();
    const error = await pending;
    expect(axios.isCancel(error)).toBe(true);
    expect(server.seen).toHaveLength(1);
  });

  it('the request’s cancelToken ends a wait at once too (axios-retry users still pass one)', async () => {
    server = await scriptServer(answer(503, {}, { 'retry-after': '30' }));
    const { clock, api } = resilient();
    const source = axios.CancelToken.source();
    let settled = false;
    const pending = failure(api.get('/items', { cancelToken: source.token })).finally(() => {
      settled = true;
    });
    await waiting(clock);
    source.cancel('the user left');
    await until(() => settled, 'the request to end without the clock moving');
    const error = await pending;
    expect(axios.isCancel(error)).toBe(true);
    expect((error as Error).message).toBe('the user left');
    expect(server.seen).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('follows a provider that is down for a while: the breaker opens, probes once, closes', async () => {
    server = await scriptServer(answer(503));
    const { clock, api } = resilient({ retry: false, breaker: { strategy: consecutive(3), halfOpenAfter: 30_000 } });
    for (let i = 0; i < 3; i++)
      expect(((await failure(api.get('/v1/models'))) as AxiosError).response?.status).toBe(503);
    const refused = await failure(api.get('/v1/models'));
    expect(refused).toBeInstanceOf(BrokenCircuitError);
    expect(resilienceDetails(refused)).toMatchObject({ breakerState: 'open' });
    expect(server.seen).toHaveLength(3); // nothing on the wire while open
    server.script(answer(200));
    await clock.advance(30_000);
    const probe = api.get('/v1/models');
    const second = failure(api.get('/v1/models')); // half-open: one probe only
    expect(await second).toBeInstanceOf(BrokenCircuitError);
    expect((await probe).status).toBe(200);
    const host = api.client.host(server.host)!;
    expect(host.breaker!.state).toBe('closed');
    expect(host.breaker!.name).toBe(`axios:${server.host}`);
    expect((await api.get('/v1/models')).status).toBe(200);
    expect(server.seen).toHaveLength(5);
  });

  it('keys a path relative to baseURL by baseURL’s host, with or without a slash between them', async () => {
    server = await scriptServer(answer(503));
    const { api } = resilient({ retry: false, breaker: { strategy: consecutive(1) } });
    await failure(api.get('items')); // axios puts a slash between baseURL and the path
    await failure(api.get('orders/1'));
    await failure(api.get('.evil.test/x'));
    expect(api.client.hosts()).toEqual([server.host]);
    expect(server.seen.map((s) => s.url)).toEqual(['/items']); // the breaker opened: nothing else went out
  });

  it('one breaker per key(config)', async () => {
    server = await scriptServer(answer(503));
    const { api } = resilient({
      retry: false,
      breaker: { strategy: consecutive(1) },
      key: (config) => config.url!.split('/')[1]!,
    });
    await failure(api.get('/a/1'));
    expect(await failure(api.get('/a/2'))).toBeInstanceOf(BrokenCircuitError);
    expect(((await failure(api.get('/b/1'))) as AxiosError).response?.status).toBe(503);
    expect(api.client.hosts()).toEqual(['a', 'b']);
  });

  it('throttles locally once the host refuses, so the request never goes out', async () => {
    server = await scriptServer(answer(503));
    const { api } = resilient({ retry: false, throttle: { k: 2 } });
    await failure(api.get('/items')); // requests 1, accepts 0: the next is refused with probability 1/2
    expect(await failure(api.get('/items'))).toBeInstanceOf(ThrottledError);
    expect(server.seen).toHaveLength(1);
  });

  it('waits for a per-host quota ({ requestsPerMinute }) in FIFO order', async () => {
    server = await scriptServer(answer(200));
    const { clock, api } = resilient({ rateLimit: { requestsPerMinute: 1, maxWaitMs: 120_000 } });
    expect((await api.get('/a')).status).toBe(200);
    const order: string[] = [];
    const second = api.get('/b').then(() => order.push('b'));
    const third = api.get('/c').then(() => order.push('c'));
    await waiting(clock);
    expect(server.seen).toHaveLength(1);
    await clock.advance(60_000);
    await second;
    expect(server.seen).toHaveLength(2);
    await clock.advance(60_000);
    await third;
    expect(order).toEqual(['b', 'c']);
  });

  it('a retry our rate limit or throttle refuses: the provider’s last answer, not our refusal', async () => {
    const quota = { error: { code: 'insufficient_quota' } };
    server = await scriptServer(answer(429, quota));
    const { clock, api } = resilient({ rateLimit: { requestsPerMinute: 1, maxWaitMs: 10_000 } });
    // Before: our RateLimitExceededError, the 429 and its body thrown away.
    const limited = (await drive(clock, failure(api.get('/items')))) as AxiosError;
    expect([limited.response?.status, limited.response?.data]).toEqual([429, quota]);
    expect(resilienceDetails(limited)).toMatchObject({ attempts: 2 });
    server.script(answer(503, { text: 'down' }));
    const throttled = resilient({ throttle: true }); // one 503 on a fresh client: p = 1/2, drawn as 0
    const pending = failure(throttled.api.get('/stream', { responseType: 'stream' }));
    const streamed = (await drive(throttled.clock, pending)) as AxiosError;
    expect(streamed.response?.status).toBe(503);
    const body = streamed.response!.data as Readable;
    expect(body.destroyed).toBe(false); // held for the caller, not released for a retry that never went
    body.destroy();
    expect(server.seen).toHaveLength(2);
  });

  it('keeps a metrics collector per host', async () => {
    server = await scriptServer(answer(200), answer(404));
    const { api } = resilient({ metrics: true });
    await api.get('/a');
    await failure(api.get('/b'));
    expect(api.client.host(server.host)!.metrics!.snapshot()).toMatchObject({ calls: 2, ok: 1, failed: 1 });
  });

  // With maxContentLength, the http adapter's stream is a Readable.from over its own async
  // generator, whose destroy waits for the stalled read: the request must be destroyed too.
  // The fetch adapter's is a stream of axios' own that reads ahead (under maxContentLength, a
  // signal or token, ours when an attempt is timed, or onDownloadProgress), whose cancel waits
  // for that read: the fetch must be aborted too.
  it.each([
    ['http', {}],
    ['fetch', {}],
    ['http', { maxContentLength: 1_000_000 }],
    ['http', { maxContentLength: 1_000_000, validateStatus: () => true }], // resolved, then retried
    ['fetch', { maxContentLength: 1_000_000 }],
    ['fetch', {}, { timeout: 5_000 }],
    ['fetch', { signal: new AbortController().signal }],
    ['fetch', { onDownloadProgress: () => {} }],
    ['fetch', { validateStatus: () => true }, { timeout: 5_000 }], // resolved, then retried
  ] as [string, CreateAxiosDefaults, ResilientAxiosOptions?][])(
    'releases a retried response streamed by the %s adapter (%o, %o), so its connection is not held',
    async (adapter, config, options = {}) => {
      server = await scriptServer((_req, res) => {
        res.writeHead(503, { 'content-type': 'application/octet-stream' });
        res.write('partial'); // the rest never comes: only the client can free the connection
      }, answer(200));
      const { clock, api } = resilient(options, new FakeClock(), { adapter, ...config });
      let retrying = false; // the clock has the attempt timeout's timer too
      api.client.onEvent((event) => void (retrying ||= event.type === 'retry'));
      const pending = api.get('/stream', { responseType: 'stream' });
      await until(() => retrying, 'the wait before the retry');
      await clock.advance(100); // held through the wait, released as the retry goes out
      expect((await pending).status).toBe(200);
      await until(() => server.seen[0]!.aborted, 'the retried response to be released');
    },
  );

  it.each(['http', 'fetch'] as const)(
    'retries a GET whose 200 body broke off before it was read in full (%s adapter): the caller had none of it',
    async (adapter) => {
      server = await scriptServer(cut, answer(200, { ok: true }));
      const { clock, api } = resilient();
      const pending = api.get('/items', { adapter });
      await waiting(clock);
      await clock.advance(100);
      expect((await pending).data).toEqual({ ok: true });
      expect(server.seen).toHaveLength(2);
    },
  );

  it.each(['http', 'fetch'] as const)(
    'sorts a 200 body that broke off as a network error (%s adapter), as fetch’s own failure says',
    async (adapter) => {
      server = await scriptServer(cut);
      const { api } = resilient({ retry: false, metrics: true });
      const error = await failure(api.get('/items', { adapter }));
      expect(classify(error)).toBe('network'); // before, `unknown` through the http adapter
      expect(api.client.host(server.host)!.metrics!.snapshot().errorsByCategory).toMatchObject({
        network: 1,
        unknown: 0,
      });
    },
  );

  it('does not retry a streamed body (responseType: stream) that breaks off: the caller has read part of it', async () => {
    server = await scriptServer(cut, answer(200, { ok: true }));
    const { api } = resilient();
    const response = await api.get<Readable>('/items', { responseType: 'stream' });
    const chunks: string[] = [];
    const error = await failure(
      (async () => {
        for await (const chunk of response.data) chunks.push(String(chunk));
      })(),
    );
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(chunks.join('')).toBe('{"partial":');
    expect(server.seen).toHaveLength(1);
  });

  it('does not retry a body over maxContentLength, nor a 200 that validateStatus refuses', async () => {
    server = await scriptServer(answer(200, { text: 'x'.repeat(100) }));
    const { api } = resilient();
    const tooLong = await failure(api.get('/items', { maxContentLength: 10 }));
    expect((tooLong as AxiosError).message).toBe('maxContentLength size of 10 exceeded');
    const refused = await failure(api.get('/items', { validateStatus: (status) => status === 204 }));
    expect((refused as AxiosError).response?.status).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it.each([
    ['http', {}],
    ['fetch', {}],
    ['fetch', { 'content-length': '111' }], // refused on its declared length, before the body is read
  ] as const)(
    'reads a 503 whose body is over maxContentLength as the 503 it is: retried, and counted by the breaker (%s adapter, %o)',
    async (adapter, headers) => {
      // The adapters fail such a body without a response; fetch, which has no such limit, retries the 503.
      const tooLongBody = answer(503, { text: 'x'.repeat(100) }, headers);
      server = await scriptServer(tooLongBody, answer(200, { ok: true }));
      const { clock, api } = resilient({}, new FakeClock(), { adapter });
      const pending = api.get('/items', { maxContentLength: 50 });
      await waiting(clock);
      await clock.advance(100);
      expect((await pending).data).toEqual({ ok: true });
      expect(server.seen).toHaveLength(2);
      server.script(tooLongBody);
      const { api: guarded } = resilient({ retry: false, breaker: { strategy: consecutive(1) } }, new FakeClock(), {
        adapter,
      });
      const tooLong = (await failure(guarded.get('/items', { maxContentLength: 50 }))) as AxiosError;
      expect([tooLong.message, tooLong.status]).toEqual(['maxContentLength size of 50 exceeded', 503]);
      expect(await failure(guarded.get('/items'))).toBeInstanceOf(BrokenCircuitError); // before, a success: closed
      expect(server.seen).toHaveLength(3);
    },
  );

  it('keeps a 2xx over maxContentLength through the fetch adapter the client’s own refusal: not retried', async () => {
    server = await scriptServer(answer(200, { text: 'x'.repeat(100) }));
    const { api } = resilient({ breaker: { strategy: consecutive(1) } }, new FakeClock(), { adapter: 'fetch' });
    const tooLong = (await failure(api.get('/items', { maxContentLength: 50 }))) as AxiosError;
    expect([tooLong.status, resilienceDetails(tooLong)?.attempts]).toEqual([undefined, 1]);
    expect((await api.get('/items')).status).toBe(200); // the breaker stayed closed
  });

  it.each([
    ['a 000 status line', 'HTTP/1.1 000 Weird\r\nContent-Length: 2\r\n\r\nok', {}],
    [
      'a 101 its validateStatus accepts',
      'HTTP/1.1 101 Switching Protocols\r\nContent-Length: 2\r\n\r\nok',
      { validateStatus: () => true },
    ],
  ] as const)(
    'fails %s through the http adapter, as axios fails a status it refuses, not retried',
    async (_, line, defaults) => {
      server = await scriptServer(raw(line));
      const { api } = resilient({}, new FakeClock(), { adapter: 'http', ...defaults });
      const error = (await failure(api.get('/items'))) as AxiosError;
      expect(axios.isAxiosError(error)).toBe(true); // before, it resolved: a success
      expect([error.code, error.response?.status, resilienceDetails(error)?.attempts]).toEqual([
        'ERR_BAD_RESPONSE',
        Number(line.slice(9, 12)),
        1,
      ]);
      expect(server.seen).toHaveLength(1);
    },
  );

  it('does not retry a 101 answer through the fetch adapter (undici: bad upgrade)', async () => {
    server = await scriptServer(
      raw('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
    );
    const { api, clock } = resilient({}, new FakeClock(), { adapter: 'fetch' });
    let error: AxiosError | undefined;
    api.get('/items').catch((e: AxiosError) => {
      error = e;
    });
    await until(() => error !== undefined || clock.pendingTimers > 0, 'a failure or a retry');
    expect(clock.pendingTimers).toBe(0); // before, a backoff: retried as a network error, 4 times
    expect([error?.code, resilienceDetails(error)?.attempts]).toEqual(['ERR_NETWORK', 1]);
    expect(server.seen).toHaveLength(1);
  });

  it.each(['http', 'fetch'] as const)(
    'counts a host that answers bytes that are no HTTP against its breaker, without retrying it (%s adapter)',
    async (adapter) => {
      // A proxy answering garbage: Node's http client throws HPE_INVALID_CONSTANT, the fetch
      // adapter an ERR_NETWORK with undici's HPE_INVALID_CONSTANT as cause. Both are read as fetch's is.
      server = await scriptServer(raw('HELLO\r\n\r\n'));
      const { api } = resilient({ breaker: { strategy: consecutive(2) } }, new FakeClock(), { adapter });
      for (let i = 0; i < 2; i++) {
        const error = await failure(api.get('/items'));
        expect([classify(error), resilienceDetails(error)?.attempts]).toEqual(['dependency', 1]);
      }
      expect(await failure(api.get('/items'))).toBeInstanceOf(BrokenCircuitError); // before, closed
      expect(server.seen).toHaveLength(2);
    },
  );

  it.each([
    ['http', 'gzip'],
    ['http', 'br'],
    ['fetch', 'gzip'],
    ['fetch', 'br'],
  ] as const)(
    'counts a host whose %s-adapter body does not decode (%s) against its breaker, without retrying it',
    async (adapter, encoding) => {
      // zlib throws Z_DATA_ERROR on a broken gzip body, Node's brotli ERR__ERROR_FORMAT_*: the same
      // failure of the host (before, a broken brotli body was `unknown`, or `validation` through
      // the fetch adapter, and the breaker stayed closed).
      server = await scriptServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding });
        res.end('these bytes are not compressed at all');
      });
      const { api } = resilient({ breaker: { strategy: consecutive(2) } }, new FakeClock(), { adapter });
      for (let i = 0; i < 2; i++) {
        const error = await failure(api.get('/items'));
        expect([classify(error), resilienceDetails(error)?.attempts]).toEqual(['dependency', 1]);
      }
      expect(await failure(api.get('/items'))).toBeInstanceOf(BrokenCircuitError);
      expect(server.seen).toHaveLength(2);
    },
  );

  it.each(['http', 'fetch'] as const)(
    "does not count a %s-adapter body that does not decode under responseType: 'stream': it fails as it is read",
    async (adapter) => {
      server = await scriptServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end('these bytes are not compressed at all');
      });
      const { api } = resilient({ breaker: { strategy: consecutive(2) } }, new FakeClock(), { adapter });
      for (let i = 0; i < 3; i++) {
        const { data } = await api.get('/items', { responseType: 'stream' });
        const read = async () => {
          if (typeof (data as ReadableStream).getReader === 'function') for await (const _ of data as ReadableStream);
          else for await (const _ of data as Readable);
        };
        await expect(read()).rejects.toThrow();
      }
      expect(server.seen).toHaveLength(3); // docs/axios.md: the breaker never saw the broken bodies
    },
  );

  it('sends a streamed body once: it cannot be read twice', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { api } = resilient({ idempotent: () => true });
    const error = await failure(api.put('/upload', Readable.from(['a', 'b'])));
    expect((error as AxiosError).response?.status).toBe(503);
    expect(server.seen.map((s) => s.body)).toEqual(['ab']);
  });

  it('names its policies after axios by default', () => {
    expect(AXIOS_DEFAULTS).toEqual({ name: 'axios' });
    expect(withResilience(axios.create()).client.name).toBe('axios');
  });

  it.each([null, 3, true, () => ({})])('rejects options that are not an object (%s), naming them', (options) => {
    expect(() => withResilience(axios.create(), options as never)).toThrow(
      /^Invalid withResilience options: options: received .*, expected an object of options/,
    );
  });

  it('refuses a second install by another copy of this package, and an instance whose fetch adapter sends through a resilient fetch: attempts would multiply', async () => {
    vi.resetModules();
    const copy = await import('./index.js');
    expect(copy.withResilience).not.toBe(withResilience); // another copy, as two installed versions are
    const api = withResilience(axios.create());
    expect(() => copy.withResilience(api)).toThrow(/instance: .*already/);
    // What @resilience/fetch's withResilience returns carries this mark (its own tests check it).
    const resilientFetch = Object.assign((...args: Parameters<typeof fetch>) => fetch(...args), {
      [Symbol.for('@resilience/fetch.wraps')]: true,
    });
    const viaFetch = axios.create({ adapter: 'fetch', env: { fetch: resilientFetch } });
    expect(() => withResilience(viaFetch)).toThrow(ConfigurationError);
    expect(() => withResilience(viaFetch)).toThrow(/env\.fetch: .*, expected a fetch withResilience does not wrap/);
    expect(withResilience(axios.create({ adapter: 'fetch', env: { fetch } }))).toBeDefined();
  });

  it.each([
    ['retries', 3, 'retry: { maxAttempts: retries + 1 }'],
    ['retryCondition', () => true, 'retry: { handle }, given the AxiosError'],
    ['retryDelay', () => 100, 'retry: { backoff }, e.g. backoff.exponential()'],
    ['onRetry', () => {}, 'retry: { onRetry }'],
    ['shouldResetTimeout', true, 'timeout, which bounds each attempt (deadlineMs all of them)'],
    ['onMaxRetryTimesExceeded', () => {}, "client.onEvent(), type 'give_up'"],
    ['validateResponse', null, "none: axios' validateStatus decides what fails"],
  ])("points axios-retry's %s, given as axiosRetry() took it, to what takes its place", (name, value, hint) => {
    let error: ConfigurationError | undefined;
    try {
      withResilience(axios.create(), { [name]: value, maxHosts: 0 } as never);
    } catch (e) {
      error = e as ConfigurationError;
    }
    // Named once, with the other bad options.
    expect(error?.issues).toEqual([
      { option: name, received: value, allowed: `a known option (axios-retry's? here: ${hint})` },
      expect.objectContaining({ option: 'maxHosts' }),
    ]);
  });

  it("points axios-retry's names inside retry to retry's own, and leaves retry's onRetry and core's hint for retries", () => {
    const issues = (retry: object) => {
      try {
        withResilience(axios.create(), { retry } as never);
      } catch (e) {
        return (e as ConfigurationError).issues.map((i) => `${i.option}: ${i.allowed}`);
      }
      return [];
    };
    expect(issues({ retryCondition: () => true, retryDelay: () => 1, shouldResetTimeout: true })).toEqual([
      "retry.retryCondition: a known option (axios-retry's? here: handle, given the AxiosError)",
      "retry.retryDelay: a known option (axios-retry's? here: backoff, e.g. backoff.exponential())",
      "retry.shouldResetTimeout: a known option (axios-retry's? here: timeout, which bounds each attempt (deadlineMs all of them))",
    ]);
    expect(issues({ retries: 3 })).toEqual([
      expect.stringMatching(/^retry\.retries: a known option \(another library's\? here: maxAttempts = retries \+ 1\)/),
    ]);
    expect(issues({ onRetry: () => {} })).toEqual([]);
  });

  it('points a signal given in the options to the request, where axios takes it', () => {
    const { signal } = new AbortController();
    const sections = ['retry', 'breaker', 'throttle', 'rateLimit', 'timeout', 'metrics'];
    const given: Record<string, object> = { timeout: { ms: 10 }, rateLimit: { requestsPerMinute: 60 } };
    const options = Object.fromEntries(sections.map((s) => [s, { ...given[s], signal }]));
    let error: unknown;
    try {
      withResilience(axios.create(), { ...options, signal } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const issues = (error as ConfigurationError).issues.map((i) => `${i.option}: ${i.allowed}`);
    const told = "nothing here (a signal cancels one request: its config's, get(url, { signal }))";
    expect(issues).toEqual(['signal', ...sections.map((s) => `${s}.signal`)].map((o) => `${o}: ${told}`));
  });

  it('rejects what is not an axios instance, a second install, and bad options, naming them', () => {
    expect(() => withResilience({} as never)).toThrow(ConfigurationError);
    expect(() => withResilience({} as never)).toThrow(/instance: received/);
    const api = withResilience(axios.create());
    expect(() => withResilience(api)).toThrow(/instance: .*already/);
    expect(() => withResilience(axios.create(), { retry: { maxAttempts: 0 } })).toThrow(
      /^Invalid withResilience options: retry\.maxAttempts/,
    );
    // Inside retry, only retry's own options are offered; what withResilience takes at its top level is pointed there.
    expect(() => withResilience(axios.create(), { retry: { foo: 1 } as never })).toThrow(
      'retry.foo: received 1, expected a known option: maxAttempts, backoff, handle, retryAfter, budget, onRetry, name',
    );
    expect(() => withResilience(axios.create(), { retry: { deadlineMs: 1 } as never })).toThrow(
      'retry.deadlineMs: received 1, expected nothing here (deadlineMs is a top-level option, beside retry)',
    );
    // The instance and the options, in one error.
    expect(() => withResilience({} as never, { maxHosts: 0 })).toThrow(
      /^Invalid withResilience options: instance: .*; maxHosts: received 0/,
    );
  });
});

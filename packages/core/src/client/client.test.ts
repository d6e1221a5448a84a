import { describe, expect, it, vi } from 'vitest';
import { breakerRegistry } from '../breaker/registry.js';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { sequenceRandom } from '../clock/sequence-random.js';
import {
  BrokenCircuitError,
  ConfigurationError,
  RateLimitExceededError,
  ThrottledError,
  TimeoutError,
} from '../errors/errors.js';
import { backoff } from '../retry/backoff.js';
import { RETRY_BUDGET_DEFAULTS, RetryBudget } from '../retry/budget.js';
import { RETRY_DEFAULTS } from '../retry/options.js';
import { call, type FakeResponse, script, settle, transport } from '../testing/client-kit.js';
import { resilientClient } from './client.js';
import { resilienceDetails } from './details.js';
import { CLIENT_DEFAULTS, type ClientOptions } from './options.js';

const A = 'https://a.example.com/items';
const B = 'https://b.example.com/items';
const reset = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });

function client(options: ClientOptions<{ method: string; url: string }> = {}, clock = new FakeClock()) {
  return { clock, client: resilientClient({ clock, random: sequenceRandom(0.5), ...options }, transport) };
}

/** Runs `promise` to its end, firing the fake clock's timers as it waits. */
async function drive<T>(clock: FakeClock, promise: Promise<T>): Promise<T> {
  let done = false;
  const result = promise.finally(() => {
    done = true;
  });
  result.catch(() => {});
  while (!done) await clock.runAll();
  return result;
}

describe('resilientClient defaults', () => {
  it('are named constants: retries on with a budget, Retry-After up to 60 s, the rest off', () => {
    expect(CLIENT_DEFAULTS).toEqual({
      retry: true,
      retryBudget: true,
      breaker: false,
      throttle: false,
      rateLimit: false,
      timeout: false,
      deadlineMs: false,
      idempotencyKey: false,
      metrics: false,
      maxHosts: 100,
      name: 'http-client',
    });
    expect(RETRY_DEFAULTS.maxAttempts).toBe(4);
    expect(RETRY_DEFAULTS.retryAfterMaxMs).toBe(60_000);
    expect(RETRY_BUDGET_DEFAULTS).toEqual({ ratio: 0.1, minRetriesPerSecond: 1, windowMs: 10_000 });
  });

  it('build each host a retry of 4 attempts and a budget, and nothing else', async () => {
    const { client: c, clock } = client();
    const { send, attempts } = script(503);
    const response = await drive(clock, c.request(call('GET', A), send));
    expect(response.status).toBe(503);
    expect(attempts).toHaveLength(4);
    const host = c.host('a.example.com')!;
    expect(host.budget).toBeInstanceOf(RetryBudget);
    expect([host.breaker, host.throttle, host.timeout, host.deadline, host.metrics, c.limiter]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('wait the backoff with full jitter, so requests that failed together do not retry together', async () => {
    // Three draws, one per request: each waits its draw × 100 ms before its retry.
    const { client: c, clock } = client({ random: sequenceRandom(0.1, 0.5, 0.9), retry: { maxAttempts: 2 } });
    const retriedAt: number[] = [];
    const send = (attempt: { attempt: number }) => {
      if (attempt.attempt === 2) retriedAt.push(clock.now());
      return Promise.reject(reset());
    };
    const calls = [0, 1, 2].map(() => c.request(call('GET', A), send).catch(() => {}));
    await drive(clock, Promise.all(calls));
    expect(retriedAt).toEqual([10, 50, 90]);
    // A backoff of the caller's own is taken as it is.
    const own = client({ random: sequenceRandom(0.1, 0.5), retry: { maxAttempts: 2, backoff: backoff.constant(100) } });
    const ownAt: number[] = [];
    const sendOwn = (attempt: { attempt: number }) => {
      if (attempt.attempt === 2) ownAt.push(own.clock.now());
      return Promise.reject(reset());
    };
    await drive(own.clock, Promise.all([0, 1].map(() => own.client.request(call('GET', A), sendOwn).catch(() => {}))));
    expect(ownAt).toEqual([100, 100]);
  });

  it('share a budget made by another copy of core among hosts (an ESM app requiring the CJS entry too)', async () => {
    const copy = (await import('../retry/budget.js?copy' as string)) as typeof import('../retry/budget.js');
    const clock = new FakeClock();
    const budget = new copy.RetryBudget({ clock, ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000 });
    const { client: c } = client({ retry: { budget, backoff: backoff.constant(0) } }, clock);
    const { send, attempts } = script(reset());
    await drive(
      clock,
      c.request(call('GET', A), send).catch(() => {}),
    );
    await drive(
      clock,
      c.request(call('GET', B), send).catch(() => {}),
    );
    expect(attempts).toHaveLength(1 + 1 + 1); // the one retry of the window, taken by the first host
    expect(c.host('b.example.com')!.budget).toBe(budget);
    expect(budget.rejected).toBe(2);
  });

  it('keep a budget per host: 10 % of requests plus one retry a second', async () => {
    const { client: c, clock } = client({ retry: { backoff: backoff.constant(0) } });
    const { send, attempts } = script(reset());
    // 10 s window: a floor of 10 retries; 20 failing requests in one instant earn 2 more.
    const calls = Array.from({ length: 20 }, () => c.request(call('GET', A), send).catch(() => {}));
    await drive(clock, Promise.all(calls));
    expect(attempts.length).toBe(20 + 10 + 2);
    // another host has a budget of its own
    const other = script(reset());
    await drive(
      clock,
      c.request(call('GET', B), other.send).catch(() => {}),
    );
    expect(other.attempts).toHaveLength(4);
  });

  it('honour Retry-After up to 60 s and give up at once on a longer one, returning that response', async () => {
    const { client: c, clock } = client();
    const { send, attempts } = script({ status: 503, headers: { 'retry-after': '61' } });
    const started = clock.now();
    const response = await drive(clock, c.request(call('GET', A), send));
    expect(response.status).toBe(503);
    expect(attempts).toHaveLength(1);
    expect(clock.now()).toBe(started);
  });
});

describe('resilientClient.request', () => {
  it('waits for Retry-After (delay-seconds) before the next attempt, and reports the delay', async () => {
    const { client: c, clock } = client();
    const { send, attempts } = script({ status: 429, headers: { 'retry-after': '2' } }, 200);
    const pending = c.request(call('GET', A), send);
    await clock.advance(1_999);
    expect(attempts).toHaveLength(1);
    await clock.advance(1 + 100); // the server's delay plus up to 5 % jitter (random 0.5 · 10 % of 2 s)
    const response = await pending;
    expect(response.status).toBe(200);
    expect(attempts).toHaveLength(2);
    expect(resilienceDetails(response)).toEqual({ host: 'a.example.com', attempts: 2, totalDelayMs: 2_100 });
  });

  it('waits for Retry-After given as an HTTP-date', async () => {
    const clock = new FakeClock(Date.parse('2025-01-01T00:00:00Z'));
    const { client: c } = client({ retry: { backoff: backoff.constant(0) } }, clock);
    const { send, attempts } = script(
      { status: 503, headers: { 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' } },
      200,
    );
    const pending = c.request(call('GET', A), send);
    await clock.advance(2_999);
    expect(attempts).toHaveLength(1);
    await clock.advance(1_000);
    expect((await pending).status).toBe(200);
  });

  it('returns the last retryable response, and releases the ones it retried', async () => {
    const { client: c, clock } = client({ retry: { maxAttempts: 3 } });
    const { send, responses } = script(502, 503, 504);
    const response = await drive(clock, c.request(call('GET', A), send));
    expect(response).toBe(responses[2]);
    expect(responses.map((r) => r.discarded ?? false)).toEqual([true, true, false]);
    expect(resilienceDetails(response)).toMatchObject({ attempts: 3 });
  });

  it('releases the response a retried error carries (axios rejects with error.response), and survives a discard that throws', async () => {
    const response: FakeResponse = { status: 503, headers: {} };
    const axiosLike = Object.assign(new Error('Request failed with status code 503'), { response });
    const { client: c, clock } = client({ retry: { maxAttempts: 3 } });
    const { send } = script(axiosLike, axiosLike, 200);
    expect((await drive(clock, c.request(call('GET', A), send))).status).toBe(200);
    expect(response.discarded).toBe(true);
    const throwing = resilientClient<unknown, FakeResponse>(
      { clock, random: sequenceRandom(0.5) },
      {
        discard: () => {
          throw new TypeError('not a stream');
        },
      },
    );
    const again = script(axiosLike, { status: 200, headers: {} });
    expect((await drive(clock, throwing.request(call('GET', A), again.send))).status).toBe(200);
  });

  it('returns a non-retryable answer at once (a 404, a 501)', async () => {
    const { client: c, clock } = client();
    for (const status of [404, 501, 200]) {
      const { send, attempts } = script(status);
      expect((await drive(clock, c.request(call('GET', A), send))).status).toBe(status);
      expect(attempts).toHaveLength(1);
    }
  });

  it('rejects with the last error itself, details attached, never a RetryExhaustedError', async () => {
    const { client: c, clock } = client({ retry: { maxAttempts: 2, backoff: backoff.constant(250) } });
    const last = reset();
    const { send } = script(reset(), last);
    const error = await drive(clock, c.request(call('GET', A), send)).catch((e: unknown) => e);
    expect(error).toBe(last);
    expect(resilienceDetails(error)).toEqual({ host: 'a.example.com', attempts: 2, totalDelayMs: 250 });
  });

  it('sends a POST once (not safe to repeat), a POST with an Idempotency-Key as often as needed', async () => {
    const { client: c, clock } = client();
    const post = script(503, 200);
    expect((await drive(clock, c.request(call('POST', A), post.send))).status).toBe(503);
    expect(post.attempts).toHaveLength(1);
    const keyed = script(503, 200);
    expect((await drive(clock, c.request(call('POST', A, { 'idempotency-key': '"k"' }), keyed.send))).status).toBe(200);
    expect(keyed.attempts.map((a) => a.idempotencyKey)).toEqual([undefined, undefined]); // its own key is kept
  });

  it('idempotent(request) decides instead of the method', async () => {
    const { client: c, clock } = client({ idempotent: (request) => request.url.endsWith('/completions') });
    const completion = script(503, 200);
    expect((await drive(clock, c.request(call('POST', `${A}/completions`), completion.send))).status).toBe(200);
    const get = script(503, 200);
    expect((await drive(clock, c.request(call('GET', A), get.send))).status).toBe(503);
  });

  it('idempotencyKey: true adds one generated key to a POST or PATCH, the same on every attempt', async () => {
    const { client: c, clock } = client({ idempotencyKey: true });
    const post = script(503, 200);
    expect((await drive(clock, c.request(call('POST', A), post.send))).status).toBe(200);
    const keys = post.attempts.map((a) => a.idempotencyKey);
    expect(keys[0]).toMatch(/^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$/);
    expect(keys[1]).toBe(keys[0]);
    const get = script(200);
    await c.request(call('GET', A), get.send);
    expect(get.attempts[0]!.idempotencyKey).toBeUndefined();
  });

  it('idempotencyKey: true makes a POST or PATCH safe whatever idempotent says, with its own key or a generated one', async () => {
    const { client: c, clock } = client({ idempotencyKey: true, idempotent: () => false });
    const generated = script(503, 200);
    expect((await drive(clock, c.request(call('POST', A), generated.send))).status).toBe(200);
    const own = script(503, 200);
    expect((await drive(clock, c.request(call('PATCH', A, { 'idempotency-key': '"k"' }), own.send))).status).toBe(200);
    expect(own.attempts.map((a) => a.idempotencyKey)).toEqual([undefined, undefined]); // its own key is kept
    const get = script(503, 200);
    expect((await drive(clock, c.request(call('GET', A), get.send))).status).toBe(503); // idempotent decides the rest
  });

  it('generates keys with crypto.randomUUID unless a random source is injected', async () => {
    const c = resilientClient({ idempotencyKey: true }, transport);
    const first = script(200);
    const second = script(200);
    await c.request(call('POST', A), first.send);
    await c.request(call('PATCH', A), second.send);
    expect(first.attempts[0]!.idempotencyKey).toMatch(/^"[0-9a-f-]{36}"$/);
    expect(first.attempts[0]!.idempotencyKey).not.toBe(second.attempts[0]!.idempotencyKey);
  });

  it('never repeats a body that can be sent only once', async () => {
    const { client: c, clock } = client();
    const { send, attempts } = script(503, 200);
    await drive(clock, c.request(call('PUT', A, {}, { replayable: false }), send));
    expect(attempts).toHaveLength(1);
  });

  it('retry: false sends everything once', async () => {
    const { client: c, clock } = client({ retry: false });
    const { send, attempts } = script(503, 200);
    expect((await drive(clock, c.request(call('GET', A), send))).status).toBe(503);
    expect(attempts).toHaveLength(1);
    expect(c.host('a.example.com')!.retry).toBeUndefined();
  });

  it('the caller’s signal ends a wait at once, with its reason', async () => {
    const { client: c, clock } = client({ retry: { backoff: backoff.constant(10_000) } });
    const controller = new AbortController();
    const { send, attempts } = script(503);
    const pending = c.request(call('GET', A, {}, { signal: controller.signal }), send);
    await clock.advance(10);
    controller.abort(new Error('gone'));
    await expect(pending).rejects.toThrow('gone');
    expect(attempts).toHaveLength(1);
  });

  it('gives an attempt no signal when nothing can abort it, the caller’s own when only it can', async () => {
    const { client: c } = client();
    const bare = script(200);
    await c.request(call('GET', A), bare.send);
    expect(bare.attempts[0]!.signal).toBeUndefined();
    const controller = new AbortController();
    const own = script(200);
    await c.request(call('GET', A, {}, { signal: controller.signal }), own.send);
    expect(own.attempts[0]!.signal).toBe(controller.signal);
  });

  it('a time limit per attempt aborts the attempt’s signal and retries', async () => {
    const { client: c, clock } = client({ timeout: 1_000, retry: { backoff: backoff.constant(0) } });
    const signals: AbortSignal[] = [];
    const { send, attempts } = script(
      () => new Promise<FakeResponse>(() => {}), // hangs
      200,
    );
    const pending = c.request(call('GET', A), (attempt) => {
      signals.push(attempt.signal!);
      return send(attempt);
    });
    await clock.advance(1_000);
    expect((await pending).status).toBe(200);
    expect(attempts).toHaveLength(2);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(TimeoutError);
  });

  it('deadlineMs ends the whole request, the attempt in flight included', async () => {
    const { client: c, clock } = client({ deadlineMs: 5_000, retry: { backoff: backoff.constant(1_000) } });
    const { send, attempts } = script(503, () => new Promise<FakeResponse>(() => {}));
    const pending = c.request(call('GET', A), send);
    pending.catch(() => {});
    await clock.advance(5_000);
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(attempts).toHaveLength(2);
    expect(resilienceDetails(error)).toMatchObject({ attempts: 2, totalDelayMs: 1_000 });
  });

  it('does not start a wait that would pass the deadline: returns the last answer instead', async () => {
    const { client: c, clock } = client({ deadlineMs: 5_000 });
    const { send, attempts } = script({ status: 503, headers: { 'retry-after': '10' } });
    const response = await drive(clock, c.request(call('GET', A), send));
    expect(response.status).toBe(503);
    expect(attempts).toHaveLength(1);
  });

  it('rejects a key that is not a string and a signal that is not an AbortSignal with a TypeError', async () => {
    const { client: c } = client({ key: () => 42 as unknown as string });
    await expect(c.request(call('GET', A), script(200).send)).rejects.toThrow(TypeError);
    // A promise is not a yes: refused, not silently read as "not safe" (an async function is
    // refused at construction already; this one returns a promise without being one).
    const { client: i } = client({ idempotent: (() => Promise.resolve(true)) as never });
    await expect(i.request(call('POST', A), script(200).send)).rejects.toThrow(
      'http-client: idempotent(request) must return a boolean, received object',
    );
    const { client: d } = client();
    await expect(d.request(call('GET', A, {}, { signal: 'no' as never }), script(200).send)).rejects.toThrow(/signal/);
  });
});

describe('per-host policies', () => {
  it('a breaker per host: while one host is down, requests to it fail fast and the other is untouched', async () => {
    const { client: c, clock } = client({ retry: false, breaker: { strategy: consecutive(2), halfOpenAfter: 30_000 } });
    const down = script(503);
    for (let i = 0; i < 2; i++) await c.request(call('GET', A), down.send);
    const error = await c.request(call('GET', A), down.send).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokenCircuitError);
    expect(resilienceDetails(error)).toMatchObject({ attempts: 1, breakerState: 'open' });
    expect(down.attempts).toHaveLength(2);
    const up = script(200);
    expect((await c.request(call('GET', B), up.send)).status).toBe(200);
    expect(c.host('b.example.com')!.breaker!.state).toBe('closed');
    expect(c.host('a.example.com')!.breaker!.name).toBe('http-client:a.example.com');
    await clock.advance(30_000);
    const probe = script(200);
    expect((await c.request(call('GET', A), probe.send)).status).toBe(200);
    expect(c.host('a.example.com')!.breaker!.state).toBe('closed');
  });

  it('the breaker counts retryable failures only: a 404 is the dependency answering', async () => {
    const { client: c } = client({ retry: false, breaker: { strategy: consecutive(1) } });
    await c.request(call('GET', A), script(404).send);
    await c.request(call('GET', A), script(501).send);
    expect(c.host('a.example.com')!.breaker!.state).toBe('closed');
  });

  it('the breaker and the throttle count a 5xx that is not retried (529 overloaded, 52x origin down), but 501 and 505', async () => {
    for (const status of [507, 520, 524, 529]) {
      const { client: c } = client({ breaker: { strategy: consecutive(1) }, throttle: { k: 2 } });
      const { send, attempts } = script(status);
      expect((await c.request(call('GET', A), send)).status).toBe(status);
      expect(attempts).toHaveLength(1); // not in RETRYABLE_STATUSES: not retried
      expect([status, c.host('a.example.com')!.breaker!.state]).toEqual([status, 'open']); // before, closed
      expect(c.host('a.example.com')!.throttle!.stats.probability).toBeGreaterThan(0);
    }
    // The request, not the host: a method or an HTTP version the server does not take.
    const { client: c } = client({ retry: false, breaker: { strategy: consecutive(1) } });
    for (const status of [501, 505]) await c.request(call('GET', A), script(status).send);
    expect(c.host('a.example.com')!.breaker!.state).toBe('closed');
  });

  it('the breaker and the throttle count an answer that is no HTTP, which is not retried', async () => {
    // Node's http client and undici (as a fetch TypeError's cause, or a tRPC error's cause's) throw
    // llhttp's parse errors on bytes that are no HTTP: a TLS port spoken to in plain HTTP, a proxy
    // answering garbage; zlib's on a body that does not decompress.
    const parse = () => Object.assign(new Error('Parse Error: Expected HTTP/'), { code: 'HPE_INVALID_CONSTANT' });
    const wrapped = () => Object.assign(new TypeError('fetch failed'), { cause: parse() });
    const corrupt = () => Object.assign(new Error('incorrect header check'), { code: 'Z_DATA_ERROR', status: 200 });
    const brotli = () => Object.assign(new Error('Decompression failed'), { code: 'ERR__ERROR_FORMAT_PADDING_1' });
    for (const error of [
      parse,
      wrapped,
      () => Object.assign(new Error('trpc'), { cause: wrapped() }),
      corrupt,
      brotli,
    ]) {
      const { client: c } = client({ breaker: { strategy: consecutive(2) }, throttle: { k: 2 } });
      const { send, attempts } = script(error());
      await expect(c.request(call('GET', A), send)).rejects.toThrow();
      expect(attempts).toHaveLength(1); // the same bytes on every try: not retried
      expect(c.host('a.example.com')!.throttle!.stats.probability).toBeGreaterThan(0);
      await expect(c.request(call('GET', A), send)).rejects.not.toBeInstanceOf(BrokenCircuitError);
      expect(c.host('a.example.com')!.breaker!.state).toBe('open');
      c.host('a.example.com')!.breaker!.reset();
    }
    // Headers over the client's own limit are the client's refusal, as a body over its maxContentLength.
    const { client: c } = client({ retry: false, breaker: { strategy: consecutive(1) } });
    const overflow = Object.assign(new Error('Parse Error: Header overflow'), { code: 'HPE_HEADER_OVERFLOW' });
    await expect(c.request(call('GET', A), script(overflow).send)).rejects.toBe(overflow);
    expect(c.host('a.example.com')!.breaker!.state).toBe('closed');
  });

  it('a failure that opened the breaker is not retried: its answer is returned; then no request goes out', async () => {
    const { client: c, clock } = client({ breaker: { strategy: consecutive(1) } });
    const { send, attempts } = script(503);
    // Before, attempt 2 was tried, refused, and the caller saw our BrokenCircuitError, not the 503.
    const response = await drive(clock, c.request(call('GET', A), send));
    expect(response.status).toBe(503);
    expect(resilienceDetails(response)).toMatchObject({ attempts: 1, breakerState: 'open' });
    const error = await drive(clock, c.request(call('GET', A), send)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokenCircuitError); // refused: not retried
    expect(attempts).toHaveLength(1);
    expect(resilienceDetails(error)).toMatchObject({ attempts: 1 });
  });

  it('a rate limit per host, { requestsPerMinute } as a token bucket, waited for in turn', async () => {
    const { client: c, clock } = client({ rateLimit: { requestsPerMinute: 2, maxWaitMs: 60_000 } });
    const { send, attempts } = script(200);
    const calls = [1, 2, 3].map(() => c.request(call('GET', A), send));
    await settle();
    expect(attempts).toHaveLength(2);
    expect((await c.request(call('GET', B), script(200).send)).status).toBe(200); // b has its own quota
    await clock.advance(30_000);
    await Promise.all(calls);
    expect(attempts).toHaveLength(3);
  });

  it('a rate limit refusal (past maxWaitMs) is thrown, not retried', async () => {
    const { client: c } = client({ rateLimit: { requestsPerMinute: 1, maxWaitMs: 0 } });
    await c.request(call('GET', A), script(200).send);
    await expect(c.request(call('GET', A), script(200).send)).rejects.toBeInstanceOf(RateLimitExceededError);
  });

  describe('a retry refused before it goes out: the answer it was to replace is the caller’s', () => {
    // Before, the caller got our refusal (the SDK: `APIConnectionError`), the answer released.
    it('by the rate limit (past maxWaitMs): the 429, body held until then', async () => {
      const { client: c, clock } = client({ rateLimit: { requestsPerMinute: 1, maxWaitMs: 0 } });
      const { send, attempts, responses } = script(429);
      const response = await drive(clock, c.request(call('GET', A), send));
      expect(response).toBe(responses[0]);
      expect(response.discarded).toBeUndefined();
      expect(attempts).toHaveLength(1);
      expect(resilienceDetails(response)).toMatchObject({ attempts: 2 });
    });

    it('by the throttle: the 503; an axios-like error is rethrown, its response held', async () => {
      const { client: c, clock } = client({ throttle: true, random: sequenceRandom(0) }); // p = 1/2, draw 0
      const { send, responses } = script(503);
      const response = await drive(clock, c.request(call('GET', A), send));
      expect([response.status, response === responses[0], response.discarded]).toEqual([503, true, undefined]);
      const held: FakeResponse = { status: 503, headers: {} };
      const axiosLike = Object.assign(new Error('Request failed with status code 503'), { response: held });
      const axiosClient = resilientClient<unknown, FakeResponse>(
        { clock, random: sequenceRandom(0), throttle: true },
        { discard: transport.discard! },
      );
      const error = await drive(clock, axiosClient.request(call('GET', A), script(axiosLike).send)).catch((e) => e);
      expect([error, held.discarded]).toEqual([axiosLike, undefined]);
    });

    it('by a breaker other requests opened during the wait: the 503', async () => {
      const { client: c, clock } = client({
        breaker: { strategy: consecutive(2), halfOpenAfter: 60_000 },
        retry: { backoff: backoff.constant(1_000) },
      });
      const { send, responses } = script(503);
      const first = c.request(call('GET', A), send);
      await settle();
      await c.request(call('GET', A), script(reset()).send).catch(() => {}); // its retry waits too
      await clock.advance(1_000);
      expect(c.host('a.example.com')!.breaker!.state).toBe('open');
      expect(await drive(clock, first)).toBe(responses[0]);
    });

    it('a held answer goes when the retry goes out, or when the caller aborts or the deadline passes', async () => {
      const { client: c, clock } = client({
        breaker: { strategy: consecutive(5) },
        retry: { backoff: backoff.constant(1_000) },
      });
      const { send, responses } = script(503, 200);
      const pending = c.request(call('GET', A), send);
      await settle();
      expect(responses[0]!.discarded).toBeUndefined(); // held through the wait
      await clock.advance(1_000);
      expect((await pending).status).toBe(200);
      expect(responses[0]!.discarded).toBe(true);
      const controller = new AbortController();
      const aborted = script(503);
      const left = c.request(call('GET', A, {}, { signal: controller.signal }), aborted.send).catch((e) => e);
      await settle();
      controller.abort(new Error('mine'));
      expect(((await left) as Error).message).toBe('mine');
      expect(aborted.responses[0]!.discarded).toBe(true);
      // The deadline passes while the retry waits in the rate limit: its TimeoutError, as before.
      const limited = client({ rateLimit: { requestsPerMinute: 1 }, deadlineMs: 5_000 });
      const late = script(429);
      const error = await drive(limited.clock, limited.client.request(call('GET', A), late.send)).catch((e) => e);
      expect([error instanceof TimeoutError, late.responses[0]!.discarded]).toEqual([true, true]);
    });
  });

  it('adaptive throttling per host sheds requests once the host refuses them', async () => {
    const { client: c } = client({ retry: false, throttle: { k: 2 } }); // draws 0.5
    const { send, attempts } = script(503);
    for (let i = 0; i < 2; i++) await c.request(call('GET', A), send); // p: 0, then 1/2
    await expect(c.request(call('GET', A), send)).rejects.toBeInstanceOf(ThrottledError); // p = 2/3
    expect(attempts).toHaveLength(2);
    expect((await c.request(call('GET', B), script(200).send)).status).toBe(200);
  });

  it('a metrics collector per host counts requests, retries and failures', async () => {
    const { client: c, clock } = client({ metrics: true, retry: { backoff: backoff.constant(0) } });
    await drive(clock, c.request(call('GET', A), script(503, 200).send));
    await c.request(call('POST', A), script(200).send);
    await c.request(call('GET', B), script(200).send);
    const a = c.host('a.example.com')!.metrics!.snapshot();
    expect(a).toMatchObject({ calls: 2, ok: 2, retries: 1 });
    expect(c.host('b.example.com')!.metrics!.snapshot().calls).toBe(1);
  });

  it('events of every host, stamped with the host', async () => {
    const { client: c, clock } = client({ retry: { backoff: backoff.constant(0) } });
    const events: { type: string; host: string }[] = [];
    await c.request(call('GET', A), script(200).send); // a host that exists before the subscription
    const stop = c.onEvent((e) => events.push({ type: e.type, host: e.host }));
    await drive(clock, c.request(call('GET', A), script(503, 200).send));
    await c.request(call('GET', B), script(200).send); // and one built after it
    stop();
    await c.request(call('GET', B), script(200).send);
    expect(events).toEqual([
      { type: 'failure', host: 'a.example.com' },
      { type: 'retry', host: 'a.example.com' },
      { type: 'success', host: 'a.example.com' },
      { type: 'success', host: 'b.example.com' },
    ]);
  });

  it('keeps at most maxHosts hosts, dropping the least recently used (and its breaker from the registry)', async () => {
    const { client: c } = client({ maxHosts: 2, breaker: { name: 'lru-test' } });
    const send = script(200).send;
    await c.request(call('GET', 'https://one.test/'), send);
    await c.request(call('GET', 'https://two.test/'), send);
    await c.request(call('GET', 'https://one.test/'), send); // one is now the most recent
    await c.request(call('GET', 'https://three.test/'), send);
    expect(c.hosts()).toEqual(['one.test', 'three.test']);
    const names = breakerRegistry
      .list()
      .map((b) => b.name)
      .filter((n) => n.startsWith('lru-test'));
    expect(names.sort()).toEqual(['lru-test:one.test', 'lru-test:three.test']);
    for (let i = 0; i < 50; i++) await c.request(call('GET', `https://h${i}.test/`), send);
    expect(c.hosts()).toHaveLength(2);
    c.clear();
    expect(breakerRegistry.list().filter((b) => b.name.startsWith('lru-test'))).toEqual([]);
  });

  it('keeps a host whose breaker is open past maxHosts: a flood of new hosts does not close it', async () => {
    const { client: c } = client({
      maxHosts: 2,
      retry: false,
      breaker: { strategy: consecutive(1), halfOpenAfter: 60_000 },
    });
    const down = script(503);
    await c.request(call('GET', A), down.send); // a's breaker opens
    const up = script(200).send;
    for (let i = 0; i < 5; i++) await c.request(call('GET', `https://h${i}.test/`), up);
    expect(c.hosts()).toEqual(['a.example.com', 'h4.test']); // the least recently used closed one went instead
    await expect(c.request(call('GET', A), down.send)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(down.attempts).toHaveLength(1);
  });

  it('keeps a host whose throttle is shedding past maxHosts: a flood of new hosts does not reset it', async () => {
    const { client: c } = client({ maxHosts: 2, retry: false, throttle: { k: 2 } });
    const down = script(503).send;
    for (let i = 0; i < 2; i++) await c.request(call('GET', A), down); // a's throttle: p = 2/3
    const up = script(200).send;
    for (let i = 0; i < 5; i++) await c.request(call('GET', `https://h${i}.test/`), up);
    expect(c.hosts()).toEqual(['a.example.com', 'h4.test']);
    expect(c.host('a.example.com')!.throttle!.stats.probability).toBeGreaterThan(0);
  });

  it('keeps a host whose quota is spent past maxHosts: a flood of new hosts (all at once) does not refill it', async () => {
    const { client: c } = client({ maxHosts: 2, retry: false, rateLimit: { requestsPerMinute: 2, maxWaitMs: 0 } });
    const up = script(200);
    for (let i = 0; i < 2; i++) await c.request(call('GET', A), up.send); // a's quota is spent
    await expect(c.request(call('GET', A), up.send)).rejects.toBeInstanceOf(RateLimitExceededError);
    const flood = script(200).send;
    await Promise.all(Array.from({ length: 50 }, (_, i) => c.request(call('GET', `https://h${i}.test/`), flood)));
    expect(c.hosts()).toEqual(['a.example.com', 'h49.test']);
    await expect(c.request(call('GET', A), up.send)).rejects.toBeInstanceOf(RateLimitExceededError);
    expect(up.attempts).toHaveLength(2); // before, the flood evicted a's bucket: it came back full
  });

  it('forgets a dropped host’s quota also when a request to it is admitted after the drop (a retry)', async () => {
    const { client: c, clock } = client({ maxHosts: 2, rateLimit: { requestsPerMinute: 10, maxWaitMs: 0 } });
    const flaky = script(503, 200);
    const pending = c.request(call('GET', A), flaky.send); // its retry waits on the clock
    await settle();
    // Every kept host has a request in flight, so a is dropped all the same.
    let answer!: (response: FakeResponse) => void;
    const answered = new Promise<FakeResponse>((resolve) => {
      answer = resolve;
    });
    const up = script(() => answered).send;
    const flood = Array.from({ length: 3 }, (_, i) => c.request(call('GET', `https://h${i}.test/`), up));
    expect(c.hosts()).not.toContain('a.example.com');
    answer({ status: 200, headers: {} });
    await Promise.all(flood);
    await drive(clock, pending); // the retry takes from a's key after the drop
    expect(c.limiter!.peekSync('a.example.com').remaining).toBe(10); // forgotten: it holds no room in the store
  });

  it('keeps a host with requests in flight past maxHosts: their failures open its breaker, not a dropped one', async () => {
    const { client: c } = client({
      maxHosts: 2,
      retry: false,
      breaker: { strategy: consecutive(3), halfOpenAfter: 60_000 },
    });
    let fail!: () => void;
    const failing = new Promise<FakeResponse>((resolve) => {
      fail = () => resolve({ status: 503, headers: {} });
    });
    const slow = script(() => failing);
    const pending = Array.from({ length: 3 }, () => c.request(call('GET', A), slow.send));
    const up = script(200).send;
    for (let i = 0; i < 5; i++) await c.request(call('GET', `https://h${i}.test/`), up);
    expect(c.hosts()).toEqual(['a.example.com', 'h4.test']); // before, a was dropped with its breaker closed
    fail();
    await Promise.all(pending);
    expect(c.host('a.example.com')!.breaker!.state).toBe('open');
    await expect(c.request(call('GET', A), slow.send)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(slow.attempts).toHaveLength(3);
    for (let i = 5; i < 7; i++) await c.request(call('GET', `https://h${i}.test/`), up);
    expect(c.host('a.example.com')!.inFlight).toBe(0); // settled, each one counted out once
  });

  it('drops the least recently used host past maxHosts when every kept breaker is open', async () => {
    const { client: c } = client({
      maxHosts: 2,
      retry: false,
      breaker: { strategy: consecutive(1), halfOpenAfter: 60_000 },
    });
    const down = script(503).send;
    await c.request(call('GET', A), down);
    await c.request(call('GET', B), down);
    await c.request(call('GET', 'https://c.test/'), script(200).send);
    expect(c.hosts()).toEqual(['b.example.com', 'c.test']); // memory stays bounded
  });

  it('leaves no timer of a dropped host behind: memory stays bounded by maxHosts, not by the time limits', async () => {
    const { client: c, clock } = client({ maxHosts: 10, timeout: 60_000, deadlineMs: 120_000 });
    const send = script(200).send;
    for (let i = 0; i < 500; i++) await c.request(call('GET', `https://h${i}.test/`), send);
    expect(c.hosts()).toHaveLength(10);
    expect(clock.pendingTimers).toBeLessThanOrEqual(20); // a timeout and a deadline per kept host, at most
  });

  it('keeps a key longer than any host name cut to 256 characters, not whole', async () => {
    const { client: c } = client({ key: (request) => request.url.slice(8, -1) });
    const send = script(200).send;
    const long = `${'a'.repeat(300_000)}.test`; // no DNS name is longer than 253 characters
    await c.request(call('GET', `https://${long}/`), send);
    await c.request(call('GET', `https://${long.replace('.test', '.example')}/`), send);
    expect(c.hosts().map((key) => key.length)).toEqual([256]); // one host: they differ past the cut
    const { client: byHost } = client();
    await byHost.request(call('GET', `https://${long}/`), send);
    expect(byHost.hosts().map((key) => key.length)).toEqual([256]);
    expect(byHost.host('a'.repeat(256))).toBeDefined();
  });

  it('tells hosts apart that share a prefix with the previous URL', async () => {
    const { client: c } = client();
    const send = script(200).send;
    for (const url of [
      A,
      `${A}?q=1`,
      'https://a.example.com.evil.test/',
      'https://a.example.com:8443/',
      A,
      'https://A.example.com/x',
    ]) {
      await c.request(call('GET', url), send);
    }
    expect(c.hosts().sort()).toEqual(['a.example.com', 'a.example.com.evil.test', 'a.example.com:8443']);
  });

  it('keeps the least-recently-used order when string and URL-object requests mix', async () => {
    const { client: c } = client({ maxHosts: 2 });
    const send = script(200).send;
    await c.request(call('GET', 'https://one.test/a'), send);
    await c.request({ ...call('GET', 'https://two.test/'), url: new URL('https://two.test/') }, send);
    await c.request(call('GET', 'https://one.test/b'), send); // one is the most recent again
    await c.request(call('GET', 'https://three.test/'), send);
    expect(c.hosts()).toEqual(['one.test', 'three.test']);
  });

  it('key(request) groups requests under one policy instead of the host', async () => {
    const { client: c } = client({ key: () => 'provider', retry: false, breaker: { strategy: consecutive(1) } });
    await c.request(call('GET', A), script(503).send);
    await expect(c.request(call('GET', B), script(200).send)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(c.hosts()).toEqual(['provider']);
  });
});

describe('resilientClient options', () => {
  it('rejects bad options in one ConfigurationError naming each, nested ones by path', () => {
    const bad = () =>
      resilientClient({
        retry: { maxAttempts: 0, budget: { ratio: -1 } },
        breaker: { halfOpenAfter: -5 },
        timeout: { ms: 0 },
        throttle: { k: 0 },
        rateLimit: { requestsPerMinute: 0 },
        metrics: { windowMs: 0 },
      });
    expect(bad).toThrow(ConfigurationError);
    const options = (() => {
      try {
        bad();
      } catch (error) {
        return (error as ConfigurationError).issues.map((i) => i.option);
      }
    })();
    expect(options).toEqual([
      'retry.maxAttempts',
      'retry.budget.ratio',
      'breaker.halfOpenAfter',
      'throttle.k',
      'timeout.ms',
      'metrics.windowMs',
      'rateLimit.requestsPerMinute',
    ]);
  });

  it('names the bad nested options beside the bad top-level ones, in one error', () => {
    const options = (() => {
      try {
        resilientClient({ maxHosts: 0, breaker: null as never, retry: { maxAttempts: 0 }, timeout: { ms: -1 } });
      } catch (error) {
        return (error as ConfigurationError).issues.map((i) => i.option);
      }
    })();
    expect(options).toEqual(['breaker', 'maxHosts', 'retry.maxAttempts', 'timeout.ms']);
    // A bad clock is read by every builder: it is named once, not again under each nested option.
    expect(() => resilientClient({ clock: {} as never, retry: { maxAttempts: 2 } })).toThrow(
      /^Invalid resilient client options: clock: [^\n]*$/,
    );
  });

  it('names an option once, as the user wrote it, when a nested builder reads it too', () => {
    const issues = (options: ClientOptions) => {
      try {
        resilientClient(options);
      } catch (error) {
        return (error as ConfigurationError).issues.map((i) => `${i.option}=${String(i.received)}`);
      }
    };
    // deadlineMs is handed to retry() as well: not reported again as retry.deadlineMs.
    expect(issues({ deadlineMs: 'x' as never, retry: { maxAttempts: 0 } })).toEqual([
      'deadlineMs=x',
      'retry.maxAttempts=0',
    ]);
    // `timeout: -5` is the number form: it is `timeout`, not a `timeout.ms` the user never wrote.
    expect(issues({ timeout: -5 })).toEqual(['timeout=-5']);
    expect(issues({ timeout: { ms: -5 } })).toEqual(['timeout.ms=-5']);
  });

  it('rejects unknown and misspelt options, and options that are not an object', () => {
    // @ts-expect-error misspelt
    expect(() => resilientClient({ retyr: { maxAttempts: 2 } })).toThrow(/retyr: .*did you mean retry\?/);
    // @ts-expect-error not an object
    expect(() => resilientClient(5)).toThrow(ConfigurationError);
    expect(() => resilientClient({ maxHosts: 0 })).toThrow(/maxHosts/);
    expect(() => resilientClient({ rateLimit: {} as never })).toThrow(/rateLimit.requestsPerMinute/);
  });

  it('points a user of axios-retry or p-retry to retry, not to a name a few letters away', () => {
    // Not `maxAttempts = retries + 1`: the client has no `maxAttempts` (it is `retry: { maxAttempts }`).
    for (const name of ['retries', 'retryDelay', 'retryCondition']) {
      expect(() => resilientClient({ [name]: 3 } as ClientOptions)).toThrow(
        `${name}: received 3, expected a known option (did you mean retry?)`,
      );
    }
  });

  it('rejects null for an options object, naming it, instead of turning the policy on (or failing on a null read)', () => {
    const issues = (options: object) => {
      try {
        resilientClient(options as ClientOptions);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigurationError);
        return (error as ConfigurationError).issues.map((i) => i.option);
      }
      return [];
    };
    for (const name of ['retry', 'breaker', 'rateLimit', 'throttle', 'metrics', 'timeout']) {
      expect(issues({ [name]: null })).toEqual([name]);
    }
    expect(issues({ retry: { budget: null } })).toEqual(['retry.budget']);
    expect(() => resilientClient(null as never)).toThrow(ConfigurationError);
  });

  it('names an option the client sets itself when it is given in a section (retry.deadlineMs, breaker.clock)', () => {
    const issues = (options: object) => {
      try {
        resilientClient(options as ClientOptions);
      } catch (error) {
        return (error as ConfigurationError).issues.map((i) => `${i.option}: ${i.allowed}`);
      }
      return [];
    };
    // retry() would take it as a deadline on the retries only, with no time limit on the attempts.
    expect(issues({ retry: { deadlineMs: 1 } })).toEqual([
      'retry.deadlineMs: nothing here (deadlineMs is a top-level option, beside retry)',
    ]);
    expect(issues({ breaker: { clock: new FakeClock() }, throttle: { random: () => 0 } })).toEqual([
      'breaker.clock: nothing here (clock is a top-level option, beside breaker)',
      'throttle.random: nothing here (random is a top-level option, beside throttle)',
    ]);
    expect(issues({ rateLimit: { requestsPerMinute: 60, clock: new FakeClock() } })).toEqual([
      'rateLimit.clock: nothing here (clock is a top-level option, beside rateLimit)',
    ]);
    // A breaker's name is checked too, though each host's breaker is named `<name>:<host>`
    expect(issues({ breaker: { name: '' } })).toEqual(['breaker.name: a non-empty string']);
    expect(issues({ breaker: { name: 5 } })).toEqual(['breaker.name: a non-empty string']);
  });

  it('lists for an unknown name in a section only what that section takes, and suggests none it refuses', () => {
    const issues = (options: object) => {
      try {
        resilientClient(options as ClientOptions);
      } catch (error) {
        return (error as ConfigurationError).issues.map((i) => `${i.option}: ${i.allowed}`);
      }
      return [];
    };
    expect(issues({ retry: { foo: 1 } })).toEqual([
      'retry.foo: a known option: maxAttempts, backoff, handle, retryAfter, budget, onRetry, name',
    ]);
    // Near clock, which a section refuses: no suggestion of it; the top-level one is named for clock itself.
    expect(issues({ retry: { clok: 1, clock: new FakeClock() } })).toEqual([
      'retry.clock: nothing here (clock is a top-level option, beside retry)',
      'retry.clok: a known option: maxAttempts, backoff, handle, retryAfter, budget, onRetry, name',
    ]);
    expect(issues({ retry: { maxAttemps: 2 } })).toEqual([
      'retry.maxAttemps: a known option (did you mean maxAttempts?): maxAttempts, backoff, handle, retryAfter, budget, onRetry, name',
    ]);
    expect(issues({ breaker: { foo: 1 }, throttle: { foo: 1 }, rateLimit: { requestsPerMinute: 60, foo: 1 } })).toEqual(
      [
        'breaker.foo: a known option: strategy, halfOpenAfter, halfOpenMaxCalls, handle, name, initialState, registry, store, key, sync',
        'throttle.foo: a known option: k, windowMs, maxRejection, overloaded, name',
        'rateLimit.foo: a known option: algorithm, store, name, prefix, maxWaitMs, maxWaiters, onStoreError, denialCache, requestsPerMinute',
      ],
    );
    // timeout takes { ms, strategy, name }: ms is no option of timeout(), and the client sets the clock.
    expect(issues({ timeout: { ms: 100, foo: 1 } })).toEqual(['timeout.foo: a known option: ms, strategy, name']);
    expect(issues({ timeout: { ms: 100, clock: new FakeClock() } })).toEqual([
      'timeout.clock: nothing here (clock is a top-level option, beside timeout)',
    ]);
  });

  it('names a retry.onRetry that is not a function, as retry() does', () => {
    expect(() => resilientClient({ retry: { onRetry: 5 as never } })).toThrow(
      /retry\.onRetry: received 5, expected a function/,
    );
  });

  it('builds nothing per host until the host is used', () => {
    const make = vi.fn(() => 'k');
    const c = resilientClient({ key: make });
    expect(c.hosts()).toEqual([]);
    expect(make).not.toHaveBeenCalled();
  });
});

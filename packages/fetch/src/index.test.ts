import {
  BrokenCircuitError,
  backoff,
  ConfigurationError,
  consecutive,
  HttpStatusError,
  onListenerError,
  RateLimitExceededError,
  resilienceDetails,
} from '@resilience/core';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { FETCH_DEFAULTS, type ResilientFetchOptions, withResilience } from './index.js';
import { answer, drop, hang, raw, type ScriptServer, type Step, scriptServer, until } from './testing/server.js';

let server: ScriptServer;
afterEach(() => server?.close());

/** Our fetch on a fake clock that only moves when the test says, with jitter drawn as 0. */
function resilient(options: ResilientFetchOptions = {}, clock = new FakeClock()) {
  return { clock, fetch: withResilience(fetch, { clock, random: sequenceRandom(0), ...options }) };
}

/** Resolves once a policy is waiting on the fake clock (a retry's backoff, a breaker's probe, a limiter). */
const waiting = (clock: FakeClock) => until(() => clock.pendingTimers > 0, 'a wait on the clock');

describe('withResilience(fetch) against a real server', () => {
  it('retries a 503, then returns the 200', async () => {
    server = await scriptServer(answer(503), answer(200, { ok: true }));
    const { clock, fetch: f } = resilient({ random: sequenceRandom(0.5) });
    const pending = f(`${server.url}/items`);
    await waiting(clock);
    await clock.advance(49); // the backoff's full jitter: 0.5 (the draw) × 100 ms before the first retry
    expect(server.seen).toHaveLength(1);
    await clock.advance(1);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    expect(server.seen).toHaveLength(2);
    expect(resilienceDetails(response)).toEqual({ host: server.host, attempts: 2, totalDelayMs: 50 });
  });

  it('retries a dropped connection', async () => {
    server = await scriptServer(drop, answer(200));
    const { clock, fetch: f } = resilient();
    const pending = f(`${server.url}/items`);
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it('waits for a 429’s Retry-After in seconds', async () => {
    server = await scriptServer(answer(429, {}, { 'retry-after': '2' }), answer(200));
    const { clock, fetch: f } = resilient();
    const pending = f(`${server.url}/items`);
    await waiting(clock);
    await clock.advance(1_999);
    expect(server.seen).toHaveLength(1);
    await clock.advance(1);
    expect((await pending).status).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it('waits for a 429’s Retry-After as an HTTP-date', async () => {
    const start = Date.parse('2025-06-01T12:00:00Z');
    const at = new Date(start + 3_000).toUTCString();
    server = await scriptServer(answer(429, {}, { 'retry-after': at }), answer(200));
    const { clock, fetch: f } = resilient({}, new FakeClock(start));
    const pending = f(`${server.url}/items`);
    await waiting(clock);
    await clock.advance(2_999);
    expect(server.seen).toHaveLength(1);
    await clock.advance(1);
    expect((await pending).status).toBe(200);
  });

  it('gives up a slow response at the attempt timeout (the request is aborted) and retries', async () => {
    server = await scriptServer(hang, answer(200));
    const { clock, fetch: f } = resilient({ timeout: 5_000, retry: { backoff: backoff.constant(0) } });
    const pending = f(`${server.url}/slow`);
    await server.requests(1);
    await clock.advance(5_000);
    expect((await pending).status).toBe(200);
    await until(() => server.seen[0]!.aborted, 'the first request to be aborted');
    expect(server.seen).toHaveLength(2);
  });

  it('follows a provider that is down for a while: the breaker opens, probes once, closes', async () => {
    server = await scriptServer(answer(503));
    const { clock, fetch: f } = resilient({
      retry: false,
      breaker: { strategy: consecutive(3), halfOpenAfter: 30_000 },
    });
    const url = `${server.url}/v1/models`;
    for (let i = 0; i < 3; i++) expect((await f(url)).status).toBe(503);
    const refused = await f(url).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BrokenCircuitError);
    expect(server.seen).toHaveLength(3); // nothing on the wire while open
    server.script(answer(200));
    await clock.advance(30_000);
    const probe = f(url);
    const second = f(url).catch((e: unknown) => e); // half-open: one probe only
    expect(await second).toBeInstanceOf(BrokenCircuitError);
    expect((await probe).status).toBe(200);
    expect(f.client.host(server.host)!.breaker!.state).toBe('closed');
    expect(f.client.host(server.host)!.breaker!.name).toBe(`fetch:${server.host}`);
    expect((await f(url)).status).toBe(200);
    expect(server.seen).toHaveLength(5);
  });

  it('counts a host that answers bytes that are no HTTP against its breaker and throttle, without retrying it', async () => {
    // A TLS port spoken to in plain HTTP answers a TLS alert; a proxy answers garbage. undici
    // fails with `TypeError: fetch failed`, llhttp's HPE_INVALID_CONSTANT as its cause.
    server = await scriptServer(raw(Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x50])), raw('HELLO\r\n\r\n'));
    const { fetch: f } = resilient({ breaker: { strategy: consecutive(2), halfOpenAfter: 30_000 } });
    for (let i = 0; i < 2; i++) {
      const error = (await f(`${server.url}/items`).catch((e: unknown) => e)) as TypeError;
      expect((error.cause as { code?: string }).code).toBe('HPE_INVALID_CONSTANT');
      expect(resilienceDetails(error)).toMatchObject({ attempts: 1 }); // the same bytes on every try: not retried
    }
    expect(f.client.host(server.host)!.breaker!.state).toBe('open'); // before, both counted as successes
    expect(await f(`${server.url}/items`).catch((e: unknown) => e)).toBeInstanceOf(BrokenCircuitError);
    expect(server.seen).toHaveLength(2);
    const { fetch: throttled } = resilient({ throttle: true });
    await throttled(`${server.url}/items`).catch(() => {});
    expect(throttled.client.host(server.host)!.throttle!.stats.probability).toBeGreaterThan(0);
  });

  it('does not retry a 101 answer to a request that asked for no upgrade (undici: bad upgrade)', async () => {
    server = await scriptServer(
      raw('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
    );
    const { clock, fetch: f } = resilient();
    let error: unknown;
    f(`${server.url}/items`).catch((e: unknown) => {
      error = e;
    });
    await until(() => error !== undefined || clock.pendingTimers > 0, 'a failure or a retry');
    expect(clock.pendingTimers).toBe(0); // before, a backoff: retried as a network error, 4 times
    expect(error).toBeInstanceOf(TypeError);
    expect(resilienceDetails(error)).toMatchObject({ attempts: 1 });
    expect(server.seen).toHaveLength(1);
  });

  it('sends a burst of concurrent requests to a fresh host whole with throttle on: calls in flight do not count against it', async () => {
    server = await scriptServer(...Array.from({ length: 10 }, () => answer(200)));
    const { fetch: f } = resilient({ throttle: true }); // draws of 0: any probability above 0 refuses
    const burst = await Promise.all(Array.from({ length: 10 }, () => f(`${server.url}/items`)));
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(server.seen).toHaveLength(10);
    expect(f.client.host(server.host)!.throttle!.stats).toEqual({ requests: 10, accepts: 10, probability: 0 });
  });

  it('keeps a host’s breaker for a URL written without slashes (http:host), which fetch sends to that host', async () => {
    server = await scriptServer(answer(503));
    const { fetch: f } = resilient({ retry: false, breaker: { strategy: consecutive(1), halfOpenAfter: 30_000 } });
    expect((await f(`${server.url}/v1/models`)).status).toBe(503);
    const respelt = await f(`http:${server.host}/v1/models`).catch((e: unknown) => e);
    expect(respelt).toBeInstanceOf(BrokenCircuitError);
    expect(server.seen).toHaveLength(1);
    expect(f.client.hosts()).toEqual([server.host]);
  });

  it('returns the last retryable response, body intact, instead of throwing', async () => {
    server = await scriptServer(answer(503, { error: 'overloaded' }));
    const { clock, fetch: f } = resilient({ retry: { maxAttempts: 2 } });
    const pending = f(`${server.url}/items`);
    await waiting(clock);
    await clock.advance(100);
    const response = await pending;
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ error: 'overloaded' });
    expect(resilienceDetails(response)).toMatchObject({ attempts: 2 });
  });

  it('sends a POST once, unless it carries an Idempotency-Key', async () => {
    server = await scriptServer(answer(503), answer(201));
    const { clock, fetch: f } = resilient();
    expect((await f(`${server.url}/orders`, { method: 'POST', body: '{}' })).status).toBe(503);
    expect(server.seen).toHaveLength(1);
    server.script(answer(503), answer(201));
    const keyed = f(`${server.url}/orders`, { method: 'POST', body: '{}', headers: { 'Idempotency-Key': '"o-1"' } });
    await waiting(clock);
    await clock.advance(100);
    expect((await keyed).status).toBe(201);
    expect(server.seen.slice(1).map((s) => s.headers['idempotency-key'])).toEqual(['"o-1"', '"o-1"']);
  });

  it('idempotencyKey: true sends one generated key on every attempt, beside the caller’s headers', async () => {
    server = await scriptServer(answer(503), answer(201));
    const { clock, fetch: f } = resilient({ idempotencyKey: true });
    const pending = f(`${server.url}/orders`, {
      method: 'POST',
      body: '{"item":1}',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
    });
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).status).toBe(201);
    const [first, second] = server.seen;
    expect(first!.headers['idempotency-key']).toBe('"00000000-0000-4000-8000-000000000000"');
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
    expect(second!.headers.authorization).toBe('Bearer t');
    expect([first!.body, second!.body]).toEqual(['{"item":1}', '{"item":1}']);
  });

  it('replays a Request’s body on every attempt; the caller’s Request goes out itself, as with fetch', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { clock, fetch: f } = resilient({ idempotent: () => true });
    const request = new Request(`${server.url}/upload`, { method: 'POST', body: 'payload' });
    const pending = f(request);
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen.map((s) => s.body)).toEqual(['payload', 'payload']);
    expect(request.bodyUsed).toBe(true); // used by the first attempt, as fetch uses it
  });

  it('sends a streamed body once: it cannot be read twice', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { fetch: f } = resilient({ idempotent: () => true });
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('chunk'));
        controller.close();
      },
    });
    const response = await f(`${server.url}/upload`, { method: 'PUT', body, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(503);
    expect(server.seen).toHaveLength(1);
  });

  it('the caller’s signal ends a wait at once', async () => {
    server = await scriptServer(answer(503));
    const { clock, fetch: f } = resilient();
    const controller = new AbortController();
    const pending = f(`${server.url}/items`, { signal: controller.signal });
    await waiting(clock);
    controller.abort(new Error('user left'));
    await expect(pending).rejects.toThrow('user left');
    expect(server.seen).toHaveLength(1);
  });

  it('init’s signal: null lets go of the Request’s signal, as fetch does', async () => {
    server = await scriptServer(answer(503), answer(503), answer(200));
    const { clock, fetch: f } = resilient();
    const controller = new AbortController();
    controller.abort(new Error('the Request’s own'));
    const request = new Request(`${server.url}/items`, { signal: controller.signal });
    expect((await fetch(request, { signal: null })).status).toBe(503); // fetch itself sends it
    const pending = f(request, { signal: null });
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen).toHaveLength(3);
  });

  it('the caller’s signal still ends the body after the headers came, as with fetch, when attempts are timed', async () => {
    server = await scriptServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":'); // the rest never comes
    });
    const { fetch: f } = resilient({ timeout: 5_000 });
    const controller = new AbortController();
    const response = await f(`${server.url}/stream`, { signal: controller.signal });
    let outcome: unknown;
    response.text().then(
      () => (outcome = 'read to the end'),
      (error: unknown) => (outcome = error),
    );
    controller.abort(new Error('user left'));
    await until(() => outcome !== undefined, 'the body read to end');
    expect(outcome).toBeInstanceOf(Error); // the read failed: the body was ended (fetch's AbortError, or the reason)
  });

  it('waits for a per-host quota ({ requestsPerMinute })', async () => {
    server = await scriptServer(answer(200));
    const { clock, fetch: f } = resilient({ rateLimit: { requestsPerMinute: 1 } });
    expect((await f(`${server.url}/a`)).status).toBe(200);
    const second = f(`${server.url}/b`);
    await waiting(clock);
    expect(server.seen).toHaveLength(1);
    await clock.advance(60_000);
    expect((await second).status).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it('keeps a host’s spent quota through a flood of requests to other hosts (URLs a user picks)', async () => {
    server = await scriptServer(answer(200));
    const { fetch: f } = resilient({ retry: false, maxHosts: 10, rateLimit: { requestsPerMinute: 2, maxWaitMs: 0 } });
    for (let i = 0; i < 2; i++) expect((await f(`${server.url}/a`)).status).toBe(200);
    await expect(f(`${server.url}/a`)).rejects.toBeInstanceOf(RateLimitExceededError);
    // Loopback addresses nothing listens on: each a host of its own, refused at once.
    const port = new URL(server.url).port;
    await Promise.allSettled(Array.from({ length: 30 }, (_, i) => f(`http://127.0.0.${i + 2}:${port}/`)));
    await expect(f(`${server.url}/a`)).rejects.toBeInstanceOf(RateLimitExceededError);
    expect(server.seen).toHaveLength(2); // before, the flood evicted the host's bucket: it came back full
  });

  it('keeps a host with requests in flight through a flood of requests to other hosts: their failures open its breaker', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    server = await scriptServer((req, res) => void held.then(() => answer(503)(req, res)));
    const { fetch: f } = resilient({
      retry: false,
      maxHosts: 2,
      breaker: { strategy: consecutive(3), halfOpenAfter: 60_000 },
    });
    const pending = Array.from({ length: 3 }, () => f(`${server.url}/a`));
    await server.requests(3);
    const port = new URL(server.url).port;
    await Promise.allSettled(Array.from({ length: 5 }, (_, i) => f(`http://127.0.0.${i + 2}:${port}/`)));
    release();
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([503, 503, 503]);
    // Before, the flood dropped the host with its breaker closed, and these failures went to that one.
    await expect(f(`${server.url}/a`)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(server.seen).toHaveLength(3);
  });

  it('names its policies after fetch by default', () => {
    expect(FETCH_DEFAULTS).toEqual({ name: 'fetch' });
    expect(withResilience(fetch).client.name).toBe('fetch');
  });

  it('sends a Node stream body once as well', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { fetch: f } = resilient({ idempotent: () => true });
    const { Readable } = await import('node:stream');
    const response = await f(`${server.url}/upload`, {
      method: 'PUT',
      body: Readable.from(['a', 'b']),
      duplex: 'half',
    } as unknown as RequestInit);
    expect(response.status).toBe(503);
    expect(server.seen.map((s) => s.body)).toEqual(['ab']);
  });

  it('answers odd arguments as fetch does: with a promise, never a throw', async () => {
    server = await scriptServer(answer(200));
    const { fetch: resilientFetch } = resilient();
    // fetch writes a method that is not a string as one (WebIDL ByteString)
    const odd = resilientFetch(server.url, { method: { toString: () => 'get' } as never });
    expect(odd).toBeInstanceOf(Promise);
    expect((await odd).status).toBe(200);
    expect(server.seen.map((s) => s.method)).toEqual(['GET']);
    const unreadable = {
      get method(): string {
        throw new TypeError('no method today');
      },
    };
    const rejected = resilientFetch(server.url, unreadable);
    expect(rejected).toBeInstanceOf(Promise);
    await expect(rejected).rejects.toThrow('no method today');
    await expect(fetch(server.url, unreadable)).rejects.toThrow('no method today'); // as fetch itself
  });

  it.each([null, 3, true, () => ({})])('rejects options that are not an object (%s), naming them', (options) => {
    expect(() => withResilience(fetch, options as never)).toThrow(
      /^Invalid withResilience options: options: received .*, expected an object of options/,
    );
  });

  it('refuses a fetch it already wraps, with one ConfigurationError naming fetch: attempts would multiply', async () => {
    server = await scriptServer(answer(503));
    let sent = 0;
    const counting = ((input: string, init?: RequestInit) => {
      sent++;
      return fetch(input, init);
    }) as typeof fetch;
    const inner = withResilience(counting, { retry: { budget: false, backoff: backoff.constant(0) } });
    const wrap = () => withResilience(inner, { retry: { budget: false, backoff: backoff.constant(0) } });
    expect(wrap).toThrow(ConfigurationError);
    expect(wrap).toThrow(
      /^Invalid withResilience options: fetch: received .*, expected a fetch withResilience does not wrap yet/,
    );
    // Through another function, it cannot be seen: say so in the docs, and the inner one still counts 4.
    expect((await inner(`${server.url}/items`)).status).toBe(503);
    expect(sent).toBe(4);
  });

  it('points a signal given in the options to the request, where fetch takes it', () => {
    const { signal } = new AbortController();
    const sections = ['retry', 'breaker', 'throttle', 'rateLimit', 'timeout', 'metrics'];
    const given: Record<string, object> = { timeout: { ms: 10 }, rateLimit: { requestsPerMinute: 60 } };
    const options = Object.fromEntries(sections.map((s) => [s, { ...given[s], signal }]));
    let error: unknown;
    try {
      withResilience(fetch, { ...options, signal } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const issues = (error as ConfigurationError).issues.map((i) => `${i.option}: ${i.allowed}`);
    const told = 'nothing here (a signal cancels one request: fetch(url, { signal }))';
    expect(issues).toEqual(['signal', ...sections.map((s) => `${s}.signal`)].map((o) => `${o}: ${told}`));
  });

  it('never counts a body that does not decompress, read after fetch returned; a fetch that reads it inside does', async () => {
    // A 200 that says gzip and is not: fetch resolves at the headers, the body fails as it is read.
    const broken: Step = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end('not gzip at all');
    };
    server = await scriptServer(broken);
    const breaker = { strategy: consecutive(2) };
    const plain = withResilience(fetch, { breaker, retry: false });
    for (let i = 0; i < 3; i++) {
      const response = await plain(`${server.url}/items`);
      await expect(response.text()).rejects.toMatchObject({ cause: { code: 'Z_DATA_ERROR' } });
    }
    expect(plain.client.host(server.host)?.breaker?.state).toBe('closed');
    // docs/fetch.md's way: the body read inside the attempt (buffered) fails it, and the host's breaker counts it.
    const buffered = (input: string | URL | Request, init?: RequestInit) =>
      fetch(input, init).then(async (r) => new Response(await r.arrayBuffer(), r));
    const reading = withResilience(buffered, { breaker, retry: false });
    for (let i = 0; i < 2; i++) await expect(reading(`${server.url}/items`)).rejects.toThrow('terminated');
    await expect(reading(`${server.url}/items`)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(server.seen).toHaveLength(5);
  });

  it('hands retry.onRetry the HttpStatusError with its response, which is let go once retried or settled (docs/errors.md)', async () => {
    server = await scriptServer(answer(503));
    const errors: HttpStatusError<Response>[] = [];
    const live: unknown[] = [];
    const onRetry = ({ error }: { error: unknown }) => {
      errors.push(error as HttpStatusError<Response>);
      live.push((error as HttpStatusError<Response>).response?.status);
    };
    const f = withResilience(fetch, {
      breaker: { strategy: consecutive(2) },
      retry: { budget: false, maxAttempts: 2, backoff: backoff.constant(0), onRetry },
    });
    expect((await f(`${server.url}/items`)).status).toBe(503);
    expect(live).toEqual([503]);
    expect(errors[0]?.response).toBeUndefined();
    const open = await f(`${server.url}/items`).catch((e: unknown) => e);
    expect(open).toBeInstanceOf(BrokenCircuitError);
    expect((open as BrokenCircuitError).cause).toBeInstanceOf(HttpStatusError);
    expect(((open as BrokenCircuitError).cause as HttpStatusError<Response>).response).toBeUndefined();
  });

  it('reports an async retry.onRetry or onEvent listener that rejects, as one that throws (before: unhandled rejections)', async () => {
    server = await scriptServer(answer(503), answer(200));
    const reported: [unknown, unknown][] = [];
    const stop = onListenerError((error, event) => reported.push([error, event]));
    const sink = new Error('log sink down');
    const f = withResilience(fetch, {
      retry: {
        backoff: backoff.constant(0),
        onRetry: async () => {
          throw sink;
        },
      },
    });
    f.client.onEvent(async (event) => {
      if (event.type === 'retry') throw sink;
    });
    try {
      expect((await f(`${server.url}/items`)).status).toBe(200);
      await until(() => reported.length === 2, 'both rejections reported');
      expect(reported.map(([error, event]) => [error, (event as { type: string }).type])).toEqual([
        [sink, 'retry'],
        [sink, 'retry'],
      ]);
    } finally {
      stop();
    }
  });

  it('rejects what is not a fetch function, and bad options, naming them', () => {
    expect(() => withResilience('fetch' as never)).toThrow(ConfigurationError);
    expect(() => withResilience('fetch' as never)).toThrow(/fetch: received "fetch"/);
    expect(() => withResilience(fetch, { retry: { maxAttempts: 0 } })).toThrow(
      /^Invalid withResilience options: retry\.maxAttempts/,
    );
    // Inside retry, only retry's own options are offered; what withResilience takes at its top level is pointed there.
    expect(() => withResilience(fetch, { retry: { foo: 1 } as never })).toThrow(
      'retry.foo: received 1, expected a known option: maxAttempts, backoff, handle, retryAfter, budget, onRetry, name',
    );
    expect(() => withResilience(fetch, { retry: { deadlineMs: 1 } as never })).toThrow(
      'retry.deadlineMs: received 1, expected nothing here (deadlineMs is a top-level option, beside retry)',
    );
    // The function and the options, in one error.
    expect(() => withResilience('fetch' as never, { maxHosts: 0 })).toThrow(
      /^Invalid withResilience options: fetch: .*; maxHosts: received 0/,
    );
  });

  it('refuses an async retry.handle, as @resilience/axios does (before, wrapped, it passed and never retried)', () => {
    expect(() => withResilience(fetch, { retry: { handle: (async () => true) as never } })).toThrow(
      'retry.handle: received a function, expected a function, not async',
    );
  });
});

import { Readable } from 'node:stream';
import { consecutive, resilienceDetails, TimeoutError } from '@resilience/core';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { withResilience } from './index.js';
import { answer, early, hang, type ScriptServer, scriptServer, until } from './testing/server.js';

// A body fetch holds in memory can be sent again; a stream is read once. A copy of a streamed
// `Request` (`clone()`, a tee) would keep the whole upload in memory for a retry, so a
// streamed body is sent once, as fetch itself sends it, and never retried. A `Request`'s body
// that fetch reads as bytes is kept for a retry up to 16 MiB: the caller's `Request` goes out
// itself, as with fetch, and a longer body is not sent again.

let server: ScriptServer;
afterEach(() => server?.close());

function resilient() {
  const clock = new FakeClock();
  return { clock, fetch: withResilience(fetch, { clock, random: sequenceRandom(0), idempotent: () => true }) };
}

const UPLOAD = 'x'.repeat(64 * 1024);

/** A web stream of the upload, in 16 KiB chunks. */
function upload(): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(UPLOAD);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      controller.enqueue(bytes.subarray(offset, offset + 16 * 1024));
      offset += 16 * 1024;
      if (offset >= bytes.length) controller.close();
    },
  });
}

const url = () => `${server.url}/upload`;

describe('a Request’s body', () => {
  it.each([
    ['a Request', () => [new Request(url(), { method: 'PUT', body: upload(), duplex: 'half' } as RequestInit)]],
    [
      'a Request and an init without a body',
      () => [
        new Request(url(), { method: 'PUT', body: upload(), duplex: 'half' } as RequestInit),
        { headers: { a: 'b' } },
      ],
    ],
  ])('that is a stream is sent once, as fetch sends it, and no copy of it is kept (%s)', async (_, args) => {
    server = await scriptServer(answer(503), answer(200));
    const { clock, fetch: f } = resilient();
    const [request, init] = args() as [Request, RequestInit?];
    let response: Response | undefined;
    void f(request, init).then((answered) => (response = answered));
    await until(() => response !== undefined || clock.pendingTimers > 0, 'the answer, or a retry’s backoff');
    expect(clock.pendingTimers).toBe(0); // no retry waits
    expect(response?.status).toBe(503); // the answer, as fetch gives it
    expect(server.seen.map((seen) => seen.body.length)).toEqual([UPLOAD.length]);
    expect(request.bodyUsed).toBe(true); // the caller's Request was sent itself: no tee holds the upload
    await expect(request.text()).rejects.toThrow(TypeError);
  });

  it.each<[string, () => NonNullable<RequestInit['body']>]>([
    ['a string', () => 'payload'],
    ['a Blob', () => new Blob(['payload'])],
    ['an ArrayBuffer', () => new TextEncoder().encode('payload').buffer as ArrayBuffer],
    ['a Uint8Array', () => new TextEncoder().encode('payload')],
    ['URLSearchParams', () => new URLSearchParams({ p: 'payload' })],
    ['FormData', () => formData()],
  ])(
    'that is %s is sent again on a retry, from the copy kept: the caller’s Request goes out itself',
    async (_, body) => {
      server = await scriptServer(answer(503), answer(200));
      const { clock, fetch: f } = resilient();
      const request = new Request(url(), { method: 'PUT', body: body() });
      const pending = f(request);
      await until(() => clock.pendingTimers > 0, 'the backoff');
      await clock.advance(100);
      expect((await pending).status).toBe(200);
      const [first, second] = server.seen.map((seen) => seen.body);
      expect(first).toContain('payload');
      expect(second).toBe(first);
      expect(request.bodyUsed).toBe(true); // sent itself, as fetch sends it
    },
  );

  it.each<[string, () => NonNullable<RequestInit['body']>]>([
    ['a string', () => 'payload'],
    ['a Blob', () => new Blob(['payload'])],
    ['FormData', () => formData()],
  ])('given in init as %s is sent again on a retry', async (_, body) => {
    server = await scriptServer(answer(503), answer(200));
    const { clock, fetch: f } = resilient();
    const pending = f(url(), { method: 'PUT', body: body() });
    await until(() => clock.pendingTimers > 0, 'the backoff');
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    const [first, second] = server.seen.map((seen) => seen.body.replace(/formdata-undici-\d+/g, 'boundary'));
    expect(first).toContain('payload');
    expect(second).toBe(first); // fetch writes FormData with a new boundary each time
  });

  it('made from a Node stream (which fetch turns into bytes) is kept for a retry up to 16 MiB: the same bytes again', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { clock, fetch: f } = resilient();
    const request = new Request(url(), {
      method: 'PUT',
      body: Readable.from(['pay', 'load']),
      duplex: 'half',
    } as RequestInit);
    const pending = f(request);
    await until(() => clock.pendingTimers > 0, 'the backoff');
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen.map((seen) => seen.body)).toEqual(['payload', 'payload']);
  });

  it('over 16 MiB is not kept: the upload goes once, and its answer is returned, with no retry to wait for, admit or count', async () => {
    server = await scriptServer(answer(503));
    const clock = new FakeClock();
    const f = withResilience(fetch, {
      clock,
      random: sequenceRandom(0),
      idempotent: () => true,
      rateLimit: { requestsPerMinute: 60 },
      breaker: { strategy: consecutive(2), halfOpenAfter: 30_000 },
    });
    const mib = new Uint8Array(1 << 20).fill(120);
    const chunks = function* () {
      for (let i = 0; i < 17; i++) yield mib; // read as it is sent: the source never holds it all
    };
    for (let i = 0; i < 2; i++) {
      const request = new Request(url(), {
        method: 'PUT',
        body: Readable.from(chunks()),
        duplex: 'half',
      } as RequestInit);
      let response: Response | undefined;
      void f(request).then((answered) => (response = answered));
      await until(() => response !== undefined || clock.pendingTimers > 0, 'the answer, or a retry’s backoff');
      expect(clock.pendingTimers).toBe(0); // no retry waits
      expect(response?.status).toBe(503); // the answer, as fetch gives it
      expect(resilienceDetails(response)).toMatchObject({ attempts: 1 });
    }
    expect(server.seen.map((seen) => seen.body.length)).toEqual([17 << 20, 17 << 20]); // each sent once, all of it
    // Two failures in a row: no refused retry counted as a success between them. One token each.
    expect(f.client.host(server.host)?.breaker?.state).toBe('open');
    expect((await f.client.limiter!.peek(server.host)).remaining).toBe(58);
    // Bounded by its work, not by a wait: 2 × 17 MiB through fetch, the copy kept for a retry and
    // the server took 2.4 to 5.9 s in five runs beside two CPU hogs and the Redis tests (as CI runs
    // every project at once on two cores), over the default 5 s twice.
  }, 60_000);

  it('kept, is sent again after an attempt timeout', async () => {
    server = await scriptServer(hang, answer(200));
    const clock = new FakeClock();
    const f = withResilience(fetch, { clock, random: sequenceRandom(0), idempotent: () => true, timeout: 1_000 });
    const pending = f(new Request(url(), { method: 'PUT', body: 'payload' }));
    await server.requests(1);
    await clock.advance(1_000);
    await until(() => clock.pendingTimers > 0, 'the backoff');
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen.map((seen) => seen.body)).toEqual(['payload', 'payload']);
  });

  it('timed out while a slow body is still being copied: the timeout is the answer, not retried (whether it could be sent again is not known)', async () => {
    server = await scriptServer(hang);
    const clock = new FakeClock();
    const f = withResilience(fetch, { clock, random: sequenceRandom(0), idempotent: () => true, timeout: 1_000 });
    let more: (() => void) | undefined;
    const slow = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(new TextEncoder().encode('pay')),
      pull: () => new Promise<void>((resolve) => (more = resolve)), // never ends until told
    });
    const body = Readable.fromWeb(slow as import('node:stream/web').ReadableStream);
    const request = new Request(url(), { method: 'PUT', body, duplex: 'half' } as RequestInit);
    const outcome = f(request).catch((error: unknown) => error);
    await until(() => more !== undefined, 'the copy to wait for the body');
    await clock.advance(1_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(clock.pendingTimers).toBe(0); // no retry waits
    expect(resilienceDetails(error)).toMatchObject({ attempts: 1 });
  });

  it('given in init replaces a streamed Request’s, and is retried as its own kind', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { clock, fetch: f } = resilient();
    const request = new Request(url(), { method: 'PUT', body: upload(), duplex: 'half' } as RequestInit);
    const pending = f(request, { body: 'payload', duplex: 'half' } as RequestInit);
    await until(() => clock.pendingTimers > 0, 'the backoff');
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen.map((seen) => seen.body)).toEqual(['payload', 'payload']);
  });

  it('of a Request already read is not needed when init gives a body: sent, and retried, as fetch sends it', async () => {
    server = await scriptServer(answer(503), answer(200));
    const { clock, fetch: f } = resilient();
    const request = new Request(url(), { method: 'PUT', body: 'read before' });
    await request.text(); // fetch(request) would now refuse it; fetch(request, { body }) does not
    const pending = f(request, { body: 'payload' });
    await until(() => clock.pendingTimers > 0, 'the backoff');
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(server.seen.map((seen) => seen.body)).toEqual(['payload', 'payload']);
  });
});

// A body whose source stops giving bytes without ending (an upload that stalls) is never
// read to its end, so its copy never is: an answer that came first is returned at once, as
// fetch returns it, and the copy is let go; it is not retried (whether the body could be sent
// again is not known).
describe('a Request’s body that stalls', () => {
  const part = () => new TextEncoder().encode('part');
  const stalling: [string, () => unknown][] = [
    [
      'a byte stream',
      () =>
        new ReadableStream({
          type: 'bytes',
          start: (controller) => controller.enqueue(part()),
        }),
    ],
    [
      'a Node stream',
      () => {
        const body = new Readable({ read() {} });
        body.push('part');
        return body;
      },
    ],
    [
      'an async iterable',
      () =>
        (async function* () {
          yield part();
          await new Promise(() => {}); // never resumes
        })(),
    ],
  ];
  const options = [
    ['', {}],
    [' (attempts timed)', { timeout: 1_000 }],
  ] as const;
  const cases = stalling.flatMap(([kind, body]) =>
    options.map(([timed, extra]) => [`${kind}${timed}`, body, extra] as const),
  );

  /**
   * Watches the copy read for a retry, through the caller's `Request`'s `clone()`: its reads
   * still pending, and whether it was cancelled.
   */
  function watchCopy(request: Request) {
    const watch = { clones: 0, pendingReads: 0, cancelled: false };
    const clone = request.clone.bind(request);
    (request as { clone: () => Request }).clone = () => {
      const copy = clone();
      watch.clones++;
      const stream = copy.body!;
      const getReader = stream.getReader.bind(stream) as () => ReadableStreamDefaultReader<Uint8Array>;
      stream.getReader = (() => {
        const reader = getReader();
        const read = reader.read.bind(reader);
        const cancel = reader.cancel.bind(reader);
        reader.read = () => {
          watch.pendingReads++;
          return read().finally(() => watch.pendingReads--);
        };
        reader.cancel = (reason?: unknown) => {
          watch.cancelled = true;
          return cancel(reason);
        };
        return reader;
      }) as typeof stream.getReader;
      return copy;
    };
    return watch;
  }

  /** A request's outcome as it lands, read without awaiting it (the tests wait on the server or the caller). */
  function settling(pending: Promise<Response>) {
    const outcome: { settled: boolean; response?: Response; failure?: unknown } = { settled: false };
    pending.then(
      (response) => Object.assign(outcome, { settled: true, response }),
      (failure: unknown) => Object.assign(outcome, { settled: true, failure }),
    );
    return outcome;
  }

  const put = (body: unknown, signal?: AbortSignal) =>
    new Request(url(), { method: 'PUT', body, duplex: 'half', signal } as RequestInit);

  it.each(cases)(
    'made from %s: the server’s answer before the body ended is returned at once, not retried, and the copy is let go',
    async (_, body, extra) => {
      server = await scriptServer(early(answer(503, {}, { connection: 'close' })), answer(200));
      const clock = new FakeClock();
      const f = withResilience(fetch, { clock, random: sequenceRandom(0), idempotent: () => true, ...extra });
      const request = put(body());
      const copy = watchCopy(request);
      const outcome = settling(f(request));
      // Settled with no time passed on the clock: no retry's backoff, no attempt timeout.
      await until(() => outcome.settled, 'the answer');
      expect(outcome.failure).toBeUndefined();
      expect(outcome.response?.status).toBe(503); // the answer, as fetch gives it
      expect(resilienceDetails(outcome.response)).toMatchObject({ attempts: 1 });
      expect(server.seen).toHaveLength(1);
      expect(copy).toEqual({ clones: 1, pendingReads: 0, cancelled: true }); // nothing read or held for a retry
    },
  );

  it.each(cases)(
    'made from %s: the caller’s abort before an answer rejects at once with the caller’s reason',
    async (_, body, extra) => {
      server = await scriptServer(early(hang));
      const clock = new FakeClock();
      const f = withResilience(fetch, { clock, random: sequenceRandom(0), idempotent: () => true, ...extra });
      const caller = new AbortController();
      const request = put(body(), caller.signal);
      const copy = watchCopy(request);
      const outcome = f(request).then(
        (answered: Response) => answered.status,
        (error: unknown) => error,
      );
      await server.requests(1);
      const reason = new Error('the caller gave up');
      caller.abort(reason);
      expect(await outcome).toBe(reason);
      expect(server.seen).toHaveLength(1);
      expect(copy).toEqual({ clones: 1, pendingReads: 0, cancelled: true });
    },
  );

  it('made from a byte stream: the caller’s abort after the answer came leaves the answer returned, as fetch does', async () => {
    server = await scriptServer(early(answer(503, {}, { connection: 'close' })));
    const { clock, fetch: f } = resilient();
    const caller = new AbortController();
    const request = put(stalling[0]![1](), caller.signal);
    const outcome = settling(f(request));
    await until(() => outcome.settled, 'the answer');
    caller.abort(new Error('too late'));
    expect(outcome.failure).toBeUndefined();
    expect(outcome.response?.status).toBe(503);
    expect(clock.pendingTimers).toBe(0);
  });

  it.each(stalling)('given in init as %s is sent once and its answer returned at once', async (_, body) => {
    server = await scriptServer(early(answer(503, {}, { connection: 'close' })));
    const { clock, fetch: f } = resilient();
    const response = await f(url(), { method: 'PUT', body: body(), duplex: 'half' } as RequestInit);
    expect(response.status).toBe(503);
    expect(clock.pendingTimers).toBe(0);
    expect(server.seen).toHaveLength(1);
  });

  it('made from a byte stream that errors mid-way fails with fetch’s error, not retried, and the copy is let go', async () => {
    server = await scriptServer(hang, answer(200));
    const { clock, fetch: f } = resilient();
    let fail: ((error: Error) => void) | undefined;
    const request = put(
      new ReadableStream({
        type: 'bytes',
        start(controller) {
          controller.enqueue(part());
          fail = (error) => controller.error(error);
        },
      }),
    );
    const copy = watchCopy(request);
    const outcome = f(request).then(
      (answered: Response) => answered.status,
      (error: unknown) => error,
    );
    await until(() => copy.pendingReads > 0, 'the copy to wait for the body');
    const broken = new Error('the source broke');
    fail!(broken);
    const error = (await outcome) as TypeError & { cause?: unknown };
    expect(error).toBeInstanceOf(TypeError); // fetch's own error, whose cause is the body's
    expect(clock.pendingTimers).toBe(0); // no retry waits
    expect(resilienceDetails(error)).toMatchObject({ attempts: 1 });
    expect(copy.pendingReads).toBe(0);
  });
});

function formData(): FormData {
  const form = new FormData();
  form.set('p', 'payload');
  return form;
}

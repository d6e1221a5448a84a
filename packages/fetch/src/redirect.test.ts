import { BrokenCircuitError, consecutive, isRetryableFailure } from '@resilience/core';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type ResilientFetchOptions, withResilience } from './index.js';
import { answer, type ScriptServer, type Step, scriptServer, until } from './testing/server.js';

// Redirects are followed by fetch itself, inside one attempt. A failure that fetch's own rules
// make (a redirect loop, a redirect the caller refused, a scheme fetch does not speak) is the
// same on every try: it is not retried, and it is no sign of a host in trouble.

let servers: ScriptServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(...steps: Step[]): Promise<ScriptServer> {
  const server = await scriptServer(...steps);
  servers.push(server);
  return server;
}

function resilient(options: ResilientFetchOptions = {}) {
  const clock = new FakeClock();
  return { clock, fetch: withResilience(fetch, { clock, random: sequenceRandom(0), ...options }) };
}

const redirect =
  (status: number, location: string): Step =>
  (_req, res) => {
    res.writeHead(status, { location });
    res.end();
  };

/** A PUT of a body streamed from the caller (fetch sends it once, as it is read). */
const streamed = (): RequestInit =>
  ({
    method: 'PUT',
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('upload'));
        controller.close();
      },
    }),
    duplex: 'half',
  }) as RequestInit;

/** The outcome of `pending`, or `'a retry'` as soon as one waits on the clock. */
async function settledOrRetried(pending: Promise<Response>, clock: FakeClock): Promise<unknown> {
  let outcome: unknown;
  pending.then(
    (response) => (outcome = response),
    (error: unknown) => (outcome = error),
  );
  await until(() => outcome !== undefined || clock.pendingTimers > 0, 'the outcome, or a retry’s backoff');
  return outcome ?? 'a retry';
}

describe('a failure fetch’s redirect rules make', () => {
  it.each<[string, (url: string) => Step, RequestInit, number]>([
    ['a redirect loop (20 redirects, then fetch gives up)', () => redirect(302, '/loop'), {}, 21],
    ['a redirect with redirect: "error"', () => redirect(302, '/elsewhere'), { redirect: 'error' }, 1],
    ['a redirect to a scheme fetch does not speak', () => redirect(302, 'ftp://127.0.0.1/file'), {}, 1],
    // S3 answers 307 to a bucket's region: fetch cannot send a streamed body again (a `fetch failed` with an empty cause).
    ['a 307 to a streamed upload', () => redirect(307, '/elsewhere'), streamed(), 1],
    ['a 308 to a streamed upload', () => redirect(308, '/elsewhere'), streamed(), 1],
    [
      'a redirect to another origin with credentials in its URL',
      (url) => redirect(302, url.replace('//127.0.0.1', '//user:secret@localhost')),
      {},
      1,
    ],
    [
      'a redirect to another origin under mode: "same-origin"',
      (url) => redirect(302, url.replace('//127.0.0.1', '//localhost')),
      { mode: 'same-origin' },
      1,
    ],
  ])('is not retried: %s', async (_, step, init, requests) => {
    const server = await serve();
    server.script(step(server.url));
    const { clock, fetch: f } = resilient({ breaker: { strategy: consecutive(1), halfOpenAfter: 30_000 } });
    const outcome = await settledOrRetried(f(`${server.url}/loop`, init), clock);
    expect(outcome).toBeInstanceOf(TypeError); // fetch's own `fetch failed`
    expect((outcome as TypeError).message).toBe('fetch failed');
    expect(isRetryableFailure(outcome)).toBe(false);
    expect(server.seen).toHaveLength(requests);
    expect(f.client.host(server.host)?.breaker?.state).toBe('closed'); // the host is not in trouble
  });

  it('is not retried: a URL on a port fetch never sends to', async () => {
    const { clock, fetch: f } = resilient();
    const outcome = await settledOrRetried(f('http://127.0.0.1:6000/x11'), clock); // fetch's "bad port"
    expect(outcome).toBeInstanceOf(TypeError);
    expect(isRetryableFailure(outcome)).toBe(false);
  });

  it.each<[string, Step, string]>([
    [
      'response headers over undici’s limit, the client’s own refusal',
      (_req, res) => {
        res.writeHead(200, { 'x-big': 'a'.repeat(20_000) });
        res.end();
      },
      'closed',
    ],
    // The host answers garbage: a host failure, though retrying it gets the same bytes.
    ['an answer that is no HTTP, counted by the breaker', (req) => req.socket.end('not http at all\r\n\r\n'), 'open'],
  ])('is not retried: %s (the same on every try)', async (_, step, breaker) => {
    const server = await serve(step, step, step);
    const { clock, fetch: f } = resilient({ breaker: { strategy: consecutive(1), halfOpenAfter: 30_000 } });
    const outcome = await settledOrRetried(f(`${server.url}/items`), clock);
    expect((outcome as TypeError).message).toBe('fetch failed');
    expect(isRetryableFailure(outcome)).toBe(false);
    expect(server.seen).toHaveLength(1);
    expect(f.client.host(server.host)?.breaker?.state).toBe(breaker);
  });

  it('a dropped connection is still retried', async () => {
    const server = await serve((req) => req.socket.destroy(), answer(200));
    const { clock, fetch: f } = resilient();
    const pending = f(`${server.url}/items`);
    await until(() => clock.pendingTimers > 0, 'the backoff');
    await clock.advance(100);
    expect((await pending).status).toBe(200);
  });
});

describe('a redirect to another host', () => {
  it('runs under the policies of the URL called: the retry starts there again, the failure is its host’s', async () => {
    const target = await serve(answer(503));
    // `localhost` and `127.0.0.1`: two hosts to the client, one machine.
    const first = await serve(redirect(307, `http://localhost:${new URL(target.url).port}/moved`));
    const { clock, fetch: f } = resilient({ breaker: { strategy: consecutive(2), halfOpenAfter: 30_000 } });
    const pending = f(`${first.url}/items`);
    await until(() => clock.pendingTimers > 0, 'the backoff');
    expect(f.client.hosts()).toEqual([first.host]); // the 503 came from the other host
    expect(f.client.host(first.host)?.breaker?.state).toBe('closed');
    await clock.advance(100);
    // The retry started at the first URL again; its 503 opened the first host's breaker, which
    // would refuse another retry: none is tried, and the 503 is the answer.
    expect((await pending).status).toBe(503);
    expect(f.client.host(first.host)?.breaker?.state).toBe('open');
    expect([first.seen.length, target.seen.length]).toEqual([2, 2]);
    await expect(f(`${first.url}/items`)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(first.seen).toHaveLength(2);
  });
});

import { Readable } from 'node:stream';
import { BrokenCircuitError, consecutive, isRetryableFailure } from '@resilience/core';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import axios, { type AxiosError } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { answer, type ScriptServer, type Step, scriptServer, until } from '../../fetch/src/testing/server.js';
import { withResilience } from './index.js';

// Redirects are followed by the adapter, inside one attempt. One that can never succeed (a
// redirect loop) fails the same way on every try: it is not retried, and it is no sign of a
// host in trouble — through the http adapter (follow-redirects) and the fetch adapter alike.

let server: ScriptServer;
let target: ScriptServer | undefined;
afterEach(async () => {
  await server?.close();
  await target?.close();
  target = undefined;
});

const loop: Step = (_req, res) => {
  res.writeHead(302, { location: '/loop' });
  res.end();
};

const toFtp: Step = (_req, res) => {
  res.writeHead(302, { location: 'ftp://127.0.0.1/file' });
  res.end();
};

const redirect =
  (status: number, location: string): Step =>
  (_req, res) => {
    res.writeHead(status, { location });
    res.end();
  };

const unparsable: Step = (_req, res) => {
  res.writeHead(302, { location: 'http://[::1' });
  res.end();
};

describe('a redirect that can never succeed', () => {
  it.each<[string, 'http' | 'fetch', Step, number]>([
    ['a loop, through the http adapter', 'http', loop, 22], // follow-redirects gives up after 21
    ['a loop, through the fetch adapter', 'fetch', loop, 21], // fetch after 20
    ['to another scheme, through the http adapter', 'http', toFtp, 1],
    ['to another scheme, through the fetch adapter', 'fetch', toFtp, 1],
    ['to a Location no URL parser reads, through the http adapter', 'http', unparsable, 1],
    ['to a Location no URL parser reads, through the fetch adapter', 'fetch', unparsable, 1], // undici's ERR_INVALID_URL
  ])('is not retried: %s', async (_, adapter, step, requests) => {
    server = await scriptServer(step);
    const clock = new FakeClock();
    const api = withResilience(axios.create({ baseURL: server.url, adapter }), {
      clock,
      random: sequenceRandom(0),
      breaker: { strategy: consecutive(1), halfOpenAfter: 30_000 },
    });
    let outcome: unknown;
    api.get('/loop').then(
      (response) => (outcome = response),
      (error: unknown) => (outcome = error),
    );
    await until(() => outcome !== undefined || clock.pendingTimers > 0, 'the outcome, or a retry’s backoff');
    expect(axios.isAxiosError(outcome)).toBe(true);
    expect(isRetryableFailure(outcome)).toBe(false);
    expect(server.seen).toHaveLength(requests);
    expect(api.client.host(server.host)?.breaker?.state).toBe('closed');
  });

  it.each<[string, (url: string) => Step, () => unknown]>([
    // S3 answers 307 to a bucket's region: fetch cannot send a streamed body again (an empty cause).
    ['a 307 to a streamed upload', () => redirect(307, '/elsewhere'), () => Readable.from(['upload'])],
    ['a 308 to a streamed upload', () => redirect(308, '/elsewhere'), () => Readable.from(['upload'])],
    [
      'a redirect to another origin with credentials in its URL',
      (url) => redirect(302, url.replace('//127.0.0.1', '//user:secret@localhost')),
      () => 'text',
    ],
  ])('is not counted by the breaker, through the fetch adapter: %s', async (_, step, data) => {
    server = await scriptServer();
    server.script(step(server.url));
    const clock = new FakeClock();
    const api = withResilience(axios.create({ baseURL: server.url, adapter: 'fetch' }), {
      clock,
      random: sequenceRandom(0),
      breaker: { strategy: consecutive(1), halfOpenAfter: 30_000 },
    });
    let outcome: unknown;
    api.put('/upload', data()).then(
      (response) => (outcome = response),
      (error: unknown) => (outcome = error),
    );
    await until(() => outcome !== undefined || clock.pendingTimers > 0, 'the outcome, or a retry’s backoff');
    expect(axios.isAxiosError(outcome)).toBe(true);
    expect(isRetryableFailure(outcome)).toBe(false);
    expect(server.seen).toHaveLength(1);
    expect(api.client.host(server.host)?.breaker?.state).toBe('closed');
  });

  it('a dropped connection through the fetch adapter is still retried', async () => {
    server = await scriptServer((req) => req.socket.destroy(), answer(200));
    const clock = new FakeClock();
    const api = withResilience(axios.create({ baseURL: server.url, adapter: 'fetch' }), {
      clock,
      random: sequenceRandom(0),
    });
    const pending = api.get('/items');
    await until(() => clock.pendingTimers > 0, 'the backoff');
    await clock.advance(100);
    expect((await pending).status).toBe(200);
  });
});

describe('a redirect to another host', () => {
  it.each<['http' | 'fetch']>([['http'], ['fetch']])(
    'runs under the policies of the URL called: the failure is its host’s (%s adapter)',
    async (adapter) => {
      target = await scriptServer(answer(503));
      // `localhost` and `127.0.0.1`: two hosts to the client, one machine.
      const moved = `http://localhost:${new URL(target.url).port}/moved`;
      server = await scriptServer((_req, res) => {
        res.writeHead(307, { location: moved });
        res.end();
      });
      const clock = new FakeClock();
      const api = withResilience(axios.create({ baseURL: server.url, adapter }), {
        clock,
        random: sequenceRandom(0),
        breaker: { strategy: consecutive(1), halfOpenAfter: 30_000 },
      });
      const failed = await api.get('/items').catch((error: unknown) => error);
      expect(api.client.hosts()).toEqual([server.host]);
      expect(api.client.host(server.host)?.breaker?.state).toBe('open');
      // The 503 opened the first host's breaker: the retry it would refuse is not tried, the 503 is the answer.
      expect((failed as AxiosError).response?.status).toBe(503);
      expect([server.seen.length, target.seen.length]).toEqual([1, 1]);
      await expect(api.get('/items')).rejects.toBeInstanceOf(BrokenCircuitError);
      expect([server.seen.length, target.seen.length]).toEqual([1, 1]);
    },
  );
});

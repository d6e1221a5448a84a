import { getEventListeners } from 'node:events';
import { Agent, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { followerCount } from '@resilience/core/internal';
import { FakeClock } from '@resilience/core/testing';
import axios, { type CancelToken } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { type ScriptServer, scriptServer, until } from '../../fetch/src/testing/server.js';
import { withResilience } from './index.js';

// An app-wide signal or cancel token, passed to every request, outlives them all: what a
// request attaches to it must not grow with the requests in flight, nor stay once they end.

const CONCURRENT = 2_000;
const SOCKETS = 50; // the rest wait in the agent's queue, as concurrent requests do (their listeners are on already)

let server: ScriptServer;
let agent: Agent | undefined;
afterEach(() => server?.close());
afterEach(() => agent?.destroy());

/** A server that holds the responses until `release()`, then answers at once. */
async function gatedServer() {
  const held: ServerResponse[] = [];
  let open = false;
  const ok = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  server = await scriptServer((_req, res) => (open ? ok(res) : void held.push(res)));
  const release = () => {
    open = true;
    for (const res of held.splice(0)) ok(res);
  };
  return { server, release };
}

/** A server that answers each request's headers and the first part of its body, and the rest on `release()`. */
async function streamingServer() {
  const held: ServerResponse[] = [];
  server = await scriptServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).write('partial');
    held.push(res);
  });
  const release = () => {
    for (const res of held.splice(0)) res.end(' and the rest');
  };
  return { release };
}

/** Reads a streamed body (the http adapter's Node stream, or the fetch adapter's web stream) to its end. */
const readOut = (data: unknown): Promise<unknown> =>
  data instanceof Readable ? finished(data.resume()) : new Response(data as ReadableStream).text();

/** An instance on the server through a keep-alive agent of {@link SOCKETS} sockets. */
function instance(options = {}) {
  agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });
  return withResilience(axios.create({ baseURL: server.url, httpAgent: agent }), {
    clock: new FakeClock(),
    ...options,
  });
}

/** The request's response, or its error: a test that fails midway leaves no rejection unhandled. */
const outcome = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => value,
    (error: unknown) => error,
  );

const subscribers = (token: CancelToken) => (token as unknown as { _listeners?: unknown[] })._listeners?.length ?? 0;

describe('a long-lived caller signal and cancel token', () => {
  it.each([
    ['no time limit', {}],
    ['timed attempts', { timeout: 60_000, deadlineMs: 120_000 }],
  ])(
    'hold one abort listener however many requests follow them, and none once they end (%s)',
    async (_, options) => {
      const { release } = await gatedServer();
      const api = instance(options);
      const controller = new AbortController();
      const source = axios.CancelToken.source();
      const pending = Array.from({ length: CONCURRENT }, (_, i) =>
        outcome(api.get(`/items/${i}`, { signal: controller.signal, cancelToken: source.token })),
      );
      await server.requests(SOCKETS);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      expect(subscribers(source.token)).toBe(1);
      release();
      const responses = await Promise.all(pending);
      expect(responses.filter((response) => (response as { status?: number }).status === 200)).toHaveLength(CONCURRENT);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      expect(followerCount(controller.signal)).toBe(0);
      expect(subscribers(source.token)).toBe(0);
    },
    30_000,
  ); // a bound, not a measure: 2 000 requests take seconds on a busy machine

  it.each([
    ['no time limit', {}],
    ['timed attempts', { timeout: 60_000 }],
  ])(
    'a signal alone holds one abort listener through axios’ fetch adapter too, and none once the requests end (%s)',
    async (_, options) => {
      const { release } = await gatedServer();
      const api = instance(options);
      const controller = new AbortController();
      const count = 200; // fetch opens a connection per request: all of them reach the server
      const pending = Array.from({ length: count }, (_, i) =>
        outcome(api.get(`/items/${i}`, { adapter: 'fetch', signal: controller.signal })),
      );
      await server.requests(count);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      release();
      const responses = await Promise.all(pending);
      expect(responses.filter((response) => (response as { status?: number }).status === 200)).toHaveLength(count);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      expect(followerCount(controller.signal)).toBe(0);
    },
    30_000,
  );

  it.each([
    ['a signal', 'http', {}],
    ['a signal', 'http', { timeout: 60_000 }],
    ['a token', 'http', { timeout: 60_000 }],
    ['a signal', 'fetch', { timeout: 60_000 }],
    ['a token', 'fetch', {}],
  ] as const)(
    '%s holds one abort listener while streamed bodies are read (%s adapter, %o), and none once they end',
    async (by, adapter, options) => {
      const { release } = await streamingServer();
      const api = instance(options);
      const controller = new AbortController();
      const source = axios.CancelToken.source();
      const config = by === 'a signal' ? { signal: controller.signal } : { cancelToken: source.token };
      const count = SOCKETS; // each body holds its connection
      const responses = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          api.get(`/stream/${i}`, { adapter, responseType: 'stream', ...config }),
        ),
      );
      expect(getEventListeners(controller.signal, 'abort').length + subscribers(source.token)).toBe(1);
      release();
      await Promise.all(responses.map((response) => readOut(response.data)));
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      expect(followerCount(controller.signal)).toBe(0);
      expect(subscribers(source.token)).toBe(0);
    },
    30_000,
  );

  it.each([
    ['a signal', 'http'],
    ['a token', 'http'],
    ['a signal', 'fetch'],
    ['a token', 'fetch'],
  ] as const)(
    '%s still ends every streamed body after its attempt, through the one listener (%s adapter)',
    async (by, adapter) => {
      await streamingServer();
      const api = instance({ timeout: 60_000 });
      const controller = new AbortController();
      const source = axios.CancelToken.source();
      const config = by === 'a signal' ? { signal: controller.signal } : { cancelToken: source.token };
      const responses = await Promise.all(
        Array.from({ length: 3 }, (_, i) => api.get(`/stream/${i}`, { adapter, responseType: 'stream', ...config })),
      );
      const reads = responses.map((response) => outcome(readOut(response.data)));
      if (by === 'a signal') controller.abort();
      else source.cancel('the user left');
      const ends = await Promise.all(reads);
      expect(ends.every((end) => end instanceof Error)).toBe(true);
      await until(() => server.seen.every((seen) => seen.aborted), 'the requests to be aborted on the wire');
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      expect(subscribers(source.token)).toBe(0);
    },
  );

  it.each([
    ['the signal aborts', 'http', 'canceled'],
    ['the token cancels', 'http', 'the user left'],
    ['the token cancels', 'fetch', 'the user left'],
  ] as const)(
    'still cancels every request in flight when %s (%s adapter), through the one listener',
    async (_, adapter, message) => {
      await gatedServer();
      const api = instance();
      const controller = new AbortController();
      const source = axios.CancelToken.source();
      const settled = Array.from({ length: 3 }, (_, i) =>
        outcome(api.get(`/items/${i}`, { adapter, signal: controller.signal, cancelToken: source.token })),
      );
      await server.requests(3);
      if (message === 'canceled') controller.abort();
      else source.cancel(message);
      const errors = await Promise.all(settled);
      expect(errors.map((error) => axios.isCancel(error) && (error as Error).message)).toEqual([
        message,
        message,
        message,
      ]);
      await until(() => server.seen.every((seen) => seen.aborted), 'the requests to be aborted on the wire');
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      expect(subscribers(source.token)).toBe(0);
    },
  );
});

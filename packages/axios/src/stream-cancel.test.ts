// A streamed body (responseType: 'stream') that the caller stops reading — a `for await` left
// early, a reader cancelled — while its server stalls between events (an LLM's stream between
// two tokens): the cancel settles, and the connection is closed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { FakeClock } from '@resilience/core/testing';
import axios, { type AxiosRequestConfig } from 'axios';
import { afterEach, expect, it } from 'vitest';
import { type ScriptServer, scriptServer, until } from '../../fetch/src/testing/server.js';
import { type ResilientAxiosOptions, withResilience } from './index.js';

let server: ScriptServer;
afterEach(() => server?.close());

/** An event stream's headers and first event; the next never comes. */
const stalls = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write('data: first\n\n');
};

/** Reads the first chunk, then stops as `how` says; resolves once that stop has settled. */
async function stopAfterFirst(data: unknown, how: 'break' | 'cancel'): Promise<string> {
  if (how === 'break') {
    for await (const chunk of data as AsyncIterable<Uint8Array>) return Buffer.from(chunk).toString();
    return '';
  }
  const reader = (data as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  await reader.cancel();
  return Buffer.from(value!).toString();
}

// Through the fetch adapter, axios wraps the body in a stream of its own that reads ahead
// (under a signal or cancel token — ours, whenever an attempt can be cancelled — a
// `maxContentLength` or an `onDownloadProgress`), and its cancel waits for that read.
it.each([
  ['a timeout', { timeout: 5_000 }, {}],
  ['a deadline', { deadlineMs: 30_000 }, {}],
  ['the caller’s signal', {}, { signal: new AbortController().signal }],
  ['the caller’s cancelToken', {}, { cancelToken: axios.CancelToken.source().token }],
  ['onDownloadProgress', {}, { onDownloadProgress: () => {} }],
  ['maxContentLength', {}, { maxContentLength: 1_000_000 }],
  ['nothing', {}, {}],
] as [string, ResilientAxiosOptions, AxiosRequestConfig][])(
  'a streamed body the caller stops reading through the fetch adapter is let go at once, its connection closed (with %s)',
  async (_with, options, config) => {
    server = await scriptServer(stalls);
    const api = withResilience(axios.create({ baseURL: server.url, adapter: 'fetch' }), {
      clock: new FakeClock(),
      ...options,
    });
    for (const how of ['break', 'cancel'] as const) {
      const { data } = await api.get('/v1/stream', { responseType: 'stream', ...config });
      let read: string | undefined;
      void stopAfterFirst(data, how).then((first) => (read = first));
      await until(() => read !== undefined, `the ${how} to settle`); // before, it waited for the next event
      expect(read).toBe('data: first\n\n');
      await until(() => server.seen.at(-1)!.aborted, 'the connection to close');
    }
  },
);

// Under `maxContentLength`, the http adapter's body is a `Readable.from` over a generator of
// axios' own, whose destroy waits for the read in progress.
it.each([
  ['maxContentLength', { maxContentLength: 1_000_000 }],
  ['maxContentLength and a timeout', { maxContentLength: 1_000_000, timeout: 5_000 }],
  ['nothing', {}],
] as [string, AxiosRequestConfig & ResilientAxiosOptions][])(
  'a streamed body the caller stops reading through the http adapter is let go, its connection closed (with %s)',
  async (_with, { maxContentLength, ...options }) => {
    server = await scriptServer(stalls);
    const api = withResilience(axios.create({ baseURL: server.url, adapter: 'http' }), {
      clock: new FakeClock(),
      ...options,
    });
    for (const how of ['break', 'destroy'] as const) {
      const { data } = await api.get<Readable>('/v1/stream', {
        responseType: 'stream',
        ...(maxContentLength !== undefined && { maxContentLength }),
      });
      if (how === 'break') expect(await stopAfterFirst(data, how)).toBe('data: first\n\n');
      else {
        expect(String(await new Promise((resolve) => data.once('data', resolve)))).toBe('data: first\n\n');
        data.destroy();
      }
      await until(() => server.seen.at(-1)!.aborted, 'the connection to close'); // before, it stayed open
    }
  },
);

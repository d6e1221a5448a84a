import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bodyReader } from './body.js';
import { type CapturedResponse, responseCapture } from './capture.js';
import { respondOnce } from './respond-once.js';
import { deferred, h2Session } from './testing/http.js';

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0)) await close();
});

/** An HTTP/2 (h2c) server of `handler` and a client session to it. */
async function h2(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = http2.createServer((req, res) => handler(req as never, res as never));
  const { client, close } = await h2Session(server);
  closing.push(close);
  /** Sends a request (a body without Content-Length, as an HTTP/2 client may); resolves with the answer's body. */
  const request = (headers: http2.OutgoingHttpHeaders, body?: string) =>
    new Promise<string>((resolve, reject) => {
      const stream = client.request(headers, { endStream: body === undefined });
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (text += chunk)).once('end', () => resolve(text));
      stream.once('error', reject);
      if (body !== undefined) stream.end(body);
    });
  return Object.assign(request, { client });
}

describe('over HTTP/2 (the compatibility API)', () => {
  it('an answer of the toolkit (respondOnce) sets no reason phrase: HTTP/2 has none, and Node warns', async () => {
    const warn = vi.spyOn(process, 'emitWarning');
    const request = await h2((_req, res) => {
      respondOnce(res, { status: 503, headers: { 'retry-after': '1' }, body: 'busy' });
    });
    try {
      expect(await request({ ':path': '/' })).toBe('busy');
      expect(warn.mock.calls.map((call) => String(call[0]))).toEqual([]);
    } finally {
      warn.mockRestore();
    }
  });

  it('an answer given while the request body is still on its way sets no Connection (HTTP/2 allows none: Node warns)', async () => {
    const warn = vi.spyOn(process, 'emitWarning');
    const request = await h2((_req, res) => {
      respondOnce(res, { status: 429, body: 'slow down' });
    });
    const stream = request.client.request(
      { ':method': 'POST', ':path': '/', 'content-length': '100' },
      { endStream: false },
    );
    try {
      stream.write('part of a body');
      const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
      expect([headers[':status'], headers.connection]).toEqual([429, undefined]);
      expect(warn.mock.calls.map((call) => String(call[0]))).toEqual([]);
    } finally {
      stream.destroy();
      warn.mockRestore();
    }
  });

  it('responseCapture keeps what res.end(chunk) sends once (Http2ServerResponse.end writes it through res.write)', async () => {
    const capture = responseCapture();
    const captured = deferred<CapturedResponse | undefined>();
    const request = await h2((_req, res) => {
      capture(res).then(captured.resolve);
      res.setHeader('content-type', 'application/json');
      res.end('{"id":1}');
    });
    expect(await request({ ':path': '/' })).toBe('{"id":1}');
    expect((await captured.promise)?.body.toString()).toBe('{"id":1}');
  });

  it('bodyReader reads a body sent without Content-Length, and finds none in a request that ended with its headers', async () => {
    const read = bodyReader();
    const bodies: unknown[] = [];
    const request = await h2((req, res) => {
      read(req).then((body) => {
        bodies.push(body?.parsed);
        res.end('ok');
      });
    });
    await request({ ':method': 'POST', ':path': '/', 'content-type': 'application/json' }, '{"amount":10}');
    await request({ ':method': 'GET', ':path': '/' });
    expect(bodies).toEqual([{ amount: 10 }, undefined]);
  });
});

import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import { memoryStore } from '@resilience/core';
import { afterEach, describe, expect, it } from 'vitest';
import { loggedPath } from './logged-path.js';
import { idempotencyStep, RUN } from './middleware/idempotency.js';
import { respondOnce } from './respond-once.js';
import { h2Session } from './testing/http.js';

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0)) await close();
});

// Over HTTP/2 Node passes the bytes 0x80-0x9F of `:path` through as U+0080-U+009F (over HTTP/1
// it refuses them with 400): the path a middleware reads may hold C1 control characters.

/** An h2c server where `idempotency` guards a handler answering 201 with a count; and a client. */
async function orders() {
  const logged: unknown[] = [];
  const log = (...args: unknown[]) => logged.push(args);
  const logger = { info: log, warn: log, error: log };
  const step = idempotencyStep<IncomingMessage>(
    { store: memoryStore(), logger },
    { body: () => undefined, setBody() {}, path: (req) => req.url ?? '/', request: (req) => req },
  );
  let runs = 0;
  const server = http2.createServer(async (req, res) => {
    const [request, response] = [req as unknown as IncomingMessage, res as unknown as ServerResponse];
    try {
      const decided = await step(request, response);
      if (decided === RUN || decided === undefined) {
        response.statusCode = 201;
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ run: ++runs }));
      } else respondOnce(response, decided);
    } catch (error) {
      logged.push(error);
      response.statusCode = 500;
      response.end();
    }
  });
  const { client, close } = await h2Session(server);
  closing.push(close);
  const post = (path: string, key: string) =>
    new Promise<[number, string]>((resolve, reject) => {
      const stream = client.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/json',
        'idempotency-key': `"${key}"`,
      });
      let status = 0;
      let text = '';
      stream.setEncoding('utf8');
      stream.once('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: string) => (text += chunk)).once('end', () => resolve([status, text]));
      stream.once('error', reject);
      stream.end('{"qty":1}');
    });
  return { post, logged };
}

describe('a path with control characters (HTTP/2)', () => {
  it('idempotency runs a keyed request to /orders\\x85 and replays it (it was a 500: core refuses control characters in a fingerprint)', async () => {
    const { post, logged } = await orders();
    expect(await post('/orders\x85', 'a')).toEqual([201, '{"run":1}']);
    expect(await post('/orders\x85', 'a')).toEqual([201, '{"run":1}']);
    expect(logged).toEqual([]);
  });

  it('keeps paths that differ only in a control character apart: the key reused on the other is a conflict', async () => {
    const { post } = await orders();
    expect(await post('/orders\x85', 'b')).toEqual([201, '{"run":1}']);
    const [status] = await post('/orders\x86', 'b');
    expect(status).toBe(422);
  });
});

describe('loggedPath', () => {
  const pathOf = (url: string) => loggedPath({ req: { url } } as unknown as ServerResponse);

  it('percent-encodes C0 and C1 control characters and DEL, so none reaches a log line', () => {
    expect(pathOf('/orders\x85?token=secret')).toBe('/orders%C2%85');
    expect(pathOf('/a\x00b\x1bc\x7fd\x9f')).toBe('/a%00b%1Bc%7Fd%C2%9F');
    expect(pathOf('/caf\u00e9/\u2028')).toBe('/caf\u00e9/\u2028');
  });

  it('cuts a long path before encoding it: an escape is never cut in two', () => {
    const logged = pathOf(`/${'a'.repeat(198)}\x85\x85\x85`);
    expect(logged).toBe(`/${'a'.repeat(198)}%C2%85…`);
  });
});

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { loadShedding } from './index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** `loadShedding({ maxConcurrent: 1 })` before a handler that streams `/export` (`streams` holds each body). */
async function exportApp(body: (stream: Readable) => unknown = (stream) => stream) {
  const streams: Readable[] = [];
  const app = new Koa();
  app.use(loadShedding({ maxConcurrent: 1 }));
  app.use((ctx) => {
    if (ctx.path !== '/export') {
      ctx.body = 'small';
      return;
    }
    const stream = new Readable({ read() {} });
    stream.push('row 1\n');
    streams.push(stream);
    ctx.body = body(stream);
  });
  const server = http.createServer(app.callback());
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, streams };
}

describe('Koa loadShedding: a streamed ctx.body keeps its slot while it is sent', () => {
  for (const [kind, body] of [
    ['Node stream', (stream: Readable) => stream],
    ['web ReadableStream', (stream: Readable) => Readable.toWeb(stream)],
  ] as const) {
    it(`${kind}: a second request is shed until the body has been sent, then served`, async () => {
      const { url, streams } = await exportApp(body);
      const first = await fetch(`${url}/export`);
      const reader = first.body!.getReader();
      await reader.read(); // the chain has settled: the body is under way
      expect((await fetch(`${url}/small`)).status).toBe(503);
      streams[0]!.push(null);
      while (!(await reader.read()).done);
      // The slot is released as the response closes, a moment after the client has it all.
      let status = 503;
      for (let i = 0; i < 50 && status === 503; i++) status = (await fetch(`${url}/small`)).status;
      expect(status).toBe(200);
    });
  }

  it('a client that leaves mid-body gives the slot back', async () => {
    const { url } = await exportApp();
    const abort = new AbortController();
    const first = await fetch(`${url}/export`, { signal: abort.signal });
    await first.body!.getReader().read();
    abort.abort();
    let status = 503;
    for (let i = 0; i < 50 && status === 503; i++) status = (await fetch(`${url}/small`)).status;
    expect(status).toBe(200);
  });
});

import { Agent } from 'node:http';
import { createRequire } from 'node:module';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import { afterEach, expect, it } from 'vitest';
import { withResilience } from './index.js';
import { answer, type ScriptServer, scriptServer, until } from './testing/server.js';

// node-fetch 2 (still what older SDKs and many apps use on Node): its body is a Node stream,
// which has no `cancel`.
type NodeFetch = (url: string, init?: { agent?: Agent }) => Promise<Response>;
const nodeFetch = createRequire(import.meta.url)('node-fetch') as NodeFetch;

let server: ScriptServer;
afterEach(() => server?.close());

it('releases a retried node-fetch response (a Node stream body), so the retry gets a connection', async () => {
  // A body larger than the stream buffers between the socket and node-fetch's body: unread, it stays on the socket.
  const busy = Buffer.alloc(1 << 20, 'x');
  server = await scriptServer(
    (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain', 'content-length': busy.length });
      res.end(busy);
    },
    answer(200, { ok: true }),
  );
  // One keep-alive socket: a retried response that is not read to its end holds it, and the retry waits for ever.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const clock = new FakeClock();
  const f = withResilience(nodeFetch, { clock, random: sequenceRandom(0) });
  try {
    const pending = f(`${server.url}/items`, { agent });
    await until(() => clock.pendingTimers > 0, 'the backoff');
    await clock.advance(100);
    await until(() => server.seen.length === 2, 'the retry to reach the server');
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  } finally {
    agent.destroy();
  }
});

it('lets go of a retried node-fetch response whose body never ends', async () => {
  // A hostile or broken server: a 503 whose body never ends, written as fast as it is read.
  let written = 0;
  let blocked = false;
  server = await scriptServer(
    (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        blocked = false;
        while (!res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) {
            blocked = true; // nobody reads: wait for a drain
            res.once('drain', pump);
            return;
          }
        }
      };
      pump();
    },
    answer(200, { ok: true }),
  );
  const clock = new FakeClock();
  const f = withResilience(nodeFetch, { clock, random: sequenceRandom(0) });
  const pending = f(`${server.url}/items`);
  await until(() => clock.pendingTimers > 0, 'the backoff');
  await clock.advance(100);
  expect((await pending).status).toBe(200);
  // Backpressure comes and goes while the client still reads its 4 MiB (a loaded machine reads
  // slowly): wait until the server has been blocked, writing nothing, for 500 turns in a row.
  let seen = -1;
  let still = 0;
  await until(() => {
    if (blocked && written === seen) still++;
    else [seen, still] = [written, 0];
    return still >= 500;
  }, 'the endless body to be let go');
  expect(written).toBeLessThan(32 * 2 ** 20); // what the sockets buffer
  const at = written;
  for (let turn = 0; turn < 1_000; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
  expect(written).toBe(at); // nothing reads it any more (before: read for as long as the server wrote)
});

it('closes the connection of a retried node-fetch response whose body stalls, so the retry gets one', async () => {
  // A 503 whose body stops half-way: read out, it was read for ever, its socket held.
  const closed: number[] = [];
  let served = 0;
  server = await scriptServer(
    (req, res) => {
      const at = served++;
      req.socket.once('close', () => closed.push(at));
      res.writeHead(503, { 'content-type': 'text/plain', 'content-length': '1000' });
      res.write('x'.repeat(100));
    },
    (_req, res) => {
      served++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    },
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const clock = new FakeClock();
  const f = withResilience(nodeFetch, { clock, random: sequenceRandom(0) });
  try {
    const pending = f(`${server.url}/items`, { agent });
    await until(() => clock.pendingTimers > 0, 'the backoff');
    await clock.advance(100); // held through the wait, let go as the retry goes out
    await until(() => closed.length === 1, 'the stalled response to be let go'); // before: held for ever
    const response = await pending;
    expect([response.status, await response.json(), server.seen.length]).toEqual([200, { ok: true }, 2]);
  } finally {
    agent.destroy();
  }
});

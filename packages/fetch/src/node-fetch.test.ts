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

it('releases a retried node-fetch response (a Node stream body) by reading it out, so its connection serves the retry', async () => {
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

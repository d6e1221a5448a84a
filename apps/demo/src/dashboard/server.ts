import { readFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { close, listen } from '../listen.js';
import type { RunningDemo } from '../run.js';
import type { Target } from '../summary.js';
import { BUNDLE_DIR, ensureBundle } from './bundle.js';
import { type DashboardState, progressOf, readState } from './state.js';

/** How often the dashboard's state is read and pushed. */
const FRAME_MS = 1_000;
/** Most event streams served at once (a few tabs are plenty); the next is answered 503. */
export const MAX_STREAMS = 16;
/** Bytes a stream may have waiting for its client; past it the client is not reading and is let go. */
const MAX_BUFFERED = 1024 * 1024;
/** Most connections of any kind: the streams, the page and its two files, and some to spare. */
const MAX_CONNECTIONS = 64;

/**
 * What the page is told when the demo ends: how it went (the terminal has the whole summary),
 * or that it was stopped (Ctrl-C or `kill`: the signal) before the end, with no summary.
 */
export type DemoEnd = { ok: boolean; targets: Target[] } | { stopped: true; signal: 'SIGINT' | 'SIGTERM' };

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>resilience demo</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/app.css">
</head>
<body>
<main id="app">Connecting…</main>
<script type="module" src="/dashboard/app.js"></script>
</body>
</html>`;

/**
 * Serves the dashboard at `/dashboard`: the page, its bundle, and `/dashboard/events`, a
 * server-sent event stream with one frame a second and, when the demo ends, an `end` event.
 * Only GET and HEAD; at most `MAX_STREAMS` streams, and a client that stops reading is let go.
 */
export async function startDashboard(
  demo: RunningDemo,
  options: { read?: () => Promise<DashboardState> } = {},
): Promise<{ url: string; streams(): number; stop(end?: DemoEnd): Promise<void> }> {
  const read = options.read ?? (() => readState(demo));
  await ensureBundle();
  const [script, style] = await Promise.all([readFile(`${BUNDLE_DIR}app.js`), readFile(`${BUNDLE_DIR}app.css`)]);
  const streams = new Set<ServerResponse>();
  let latest: DashboardState | undefined;
  const frameOf = (state: DashboardState) => `data: ${JSON.stringify({ ...state, ...progressOf(demo) })}\n\n`;
  const server = createServer((req, res) => {
    // The request target as sent: anything but a path (`http://[`, `*`) is no page of ours.
    const target = req.url ?? '';
    if (!target.startsWith('/')) return answer(res, 400);
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, { allow: 'GET, HEAD' });
    const path = target.split('?', 1)[0];
    if (path === '/dashboard' || path === '/dashboard/') return send(res, 'text/html; charset=utf-8', PAGE);
    if (path === '/dashboard/app.js') return send(res, 'text/javascript; charset=utf-8', script);
    if (path === '/dashboard/app.css') return send(res, 'text/css; charset=utf-8', style);
    if (path !== '/dashboard/events') return answer(res, 404);
    if (streams.size >= MAX_STREAMS) return answer(res, 503, { 'retry-after': '5' });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    if (req.method === 'HEAD') return res.end();
    streams.add(res);
    res.on('close', () => {
      streams.delete(res);
      // Nobody watching: the next page waits for a fresh read rather than get an old frame.
      if (streams.size === 0) latest = undefined;
    });
    // The headers at once (the page shows it is connected), then the latest frame if there is one.
    res.write(latest === undefined ? ': connected\n\n' : frameOf(latest));
  });
  server.maxConnections = MAX_CONNECTIONS;
  const url = `${await listen(server)}/dashboard`;
  // Reading the APIs and pushing frames are decoupled: the clock goes out every second even
  // when the reads lag (on a busy machine they can take seconds); the phase is the reads'.
  const stopping = new AbortController();
  const tick = () => demo.clock.sleep(FRAME_MS, stopping.signal).catch(() => {});
  // Not awaited by stop(): see there.
  void (async () => {
    while (!stopping.signal.aborted) {
      try {
        if (streams.size > 0) latest = await read();
      } catch {
        // an API busy shutting down; the next read tries again
      }
      await tick();
    }
  })();
  const write = (chunk: string) => {
    for (const stream of streams) {
      // A client that does not read would have the frames pile up in this process.
      if (stream.writableLength > MAX_BUFFERED) {
        streams.delete(stream);
        stream.destroy();
      } else stream.write(chunk);
    }
  };
  const pushing = (async () => {
    while (!stopping.signal.aborted) {
      await tick();
      if (latest !== undefined && !stopping.signal.aborted) write(frameOf(latest));
    }
  })();
  let stopped: Promise<void> | undefined;
  return {
    url,
    streams: () => streams.size,
    stop(end) {
      stopped ??= (async () => {
        stopping.abort();
        // Not the read under way, if any: on a busy machine it can take seconds, and a signal
        // gives the page 2 s to hear of it. What it brings back is never pushed.
        await pushing;
        // The page says the demo is over (and how it went) instead of trying to reconnect.
        write(`event: end\ndata: ${JSON.stringify(end ?? null)}\n\n`);
        for (const stream of streams) stream.end();
        await close(server);
      })();
      return stopped;
    },
  };
}

function send(res: ServerResponse, type: string, body: string | Buffer): void {
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

function answer(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, connection: 'close' }).end();
}

import { readFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { close, listen } from '../listen.js';
import type { RunningDemo } from '../run.js';
import { BUNDLE_DIR, ensureBundle } from './bundle.js';
import { type DashboardState, progressOf, readState } from './state.js';

/** How often the dashboard's state is read and pushed. */
const FRAME_MS = 1_000;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>resilience demo</title>
<link rel="stylesheet" href="/dashboard/app.css">
</head>
<body>
<main id="app">Connecting…</main>
<script type="module" src="/dashboard/app.js"></script>
</body>
</html>`;

/**
 * Serves the dashboard at `/dashboard`: the page, its bundle, and `/dashboard/events`, a
 * server-sent event stream with one frame a second.
 */
export async function startDashboard(demo: RunningDemo): Promise<{ url: string; stop(): Promise<void> }> {
  await ensureBundle();
  const [script, style] = await Promise.all([readFile(`${BUNDLE_DIR}app.js`), readFile(`${BUNDLE_DIR}app.css`)]);
  const streams = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://dashboard').pathname;
    if (path === '/dashboard' || path === '/dashboard/') return send(res, 'text/html; charset=utf-8', PAGE);
    if (path === '/dashboard/app.js') return send(res, 'text/javascript; charset=utf-8', script);
    if (path === '/dashboard/app.css') return send(res, 'text/css; charset=utf-8', style);
    if (path === '/dashboard/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    res.writeHead(404).end();
  });
  const url = `${await listen(server)}/dashboard`;
  // Reading the APIs and pushing frames are decoupled: the clock goes out every second even
  // when the reads lag (on a busy machine they can take seconds); the phase is the reads'.
  let latest: DashboardState | undefined;
  let stopped = false;
  const refresh = async () => {
    while (!stopped) {
      try {
        if (streams.size > 0) latest = await readState(demo);
      } catch {
        // an API busy shutting down; the next read tries again
      }
      await demo.clock.sleep(FRAME_MS);
    }
  };
  const reading = refresh();
  const push = () => {
    if (latest === undefined) return;
    const now = { ...latest, ...progressOf(demo) };
    for (const stream of streams) stream.write(`data: ${JSON.stringify(now)}\n\n`);
  };
  const timer = setInterval(push, FRAME_MS);
  return {
    url,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await reading;
      for (const stream of streams) stream.end();
      await close(server);
    },
  };
}

function send(res: ServerResponse, type: string, body: string | Buffer): void {
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

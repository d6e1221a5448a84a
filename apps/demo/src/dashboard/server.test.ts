// The dashboard's HTTP server on its own, against a fake clock and frames made up here: what a
// browser, a stray client or a hostile one meets. The page itself is tested in a real browser
// by end-to-end.test.ts.
import { request } from 'node:http';
import { connect } from 'node:net';
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { raw } from '../raw-request.test-kit.js';
import type { RunningDemo } from '../run.js';
import { demoSettings } from '../settings.js';
import { MAX_STREAMS, startDashboard } from './server.js';
import type { DashboardState } from './state.js';

type Dashboard = Awaited<ReturnType<typeof startDashboard>>;

const clock = new FakeClock();
const settings = demoSettings({ durationMs: 60_000, seed: 1 });
const demo = { settings, clock, load: { elapsedMs: 0 } } as unknown as RunningDemo;

function frame(message = 'boom'): DashboardState {
  const upstream = { calls: 1, retries: 0, failedRate: 0, refusedRate: 0, p50: 1, p95: 2, p99: 3 };
  return {
    elapsedMs: 0,
    durationMs: 60_000,
    windowS: 3,
    phase: 'healthy',
    breakers: [],
    apis: { express: { upstream }, koa: { upstream }, trpc: { upstream } },
    rateLimits: [],
    errors: [{ api: 'koa', at: 0, status: 502, name: 'UpstreamError', message }],
    alerts: [],
  };
}

let dashboard: Dashboard | undefined;
afterEach(async () => {
  await dashboard?.stop();
  dashboard = undefined;
});

/**
 * Resolves once `condition` holds, checking once per turn of the event loop: the request comes
 * over a real connection meanwhile, however many turns that takes (up to 100 000).
 */
async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn >= 100_000) throw new Error('gave up waiting');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

async function start(read: () => Promise<DashboardState> = async () => frame()): Promise<Dashboard> {
  dashboard = await startDashboard(demo, { read });
  return dashboard;
}

/** One request; resolves with the status, the headers and the first `bytes` of the body once they came (or it ended). */
function get(
  url: string,
  options: { method?: string; path?: string; until?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string; close(): void }> {
  const target = new URL(options.path ?? '/dashboard', url);
  return new Promise((resolve, reject) => {
    const req = request(target, { method: options.method ?? 'GET' }, (res) => {
      let body = '';
      const done = () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, close: () => req.destroy() });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (options.until !== undefined && body.includes(options.until)) done();
      });
      res.on('end', done);
      if (options.until === '') done();
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the dashboard server', () => {
  it('answers a request target that is no URL with a 400 and keeps serving', async () => {
    const { url } = await start();
    expect(await raw(url, 'GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toBe(
      'HTTP/1.1 400 Bad Request',
    );
    expect((await get(url)).status).toBe(200);
  });

  it('serves only GET and HEAD, naming them in Allow', async () => {
    const { url } = await start();
    for (const method of ['POST', 'DELETE', 'PUT']) {
      const answer = await get(url, { method });
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe('GET, HEAD');
    }
    expect((await get(url, { method: 'HEAD' })).status).toBe(200);
    expect((await get(url, { path: '/nope?x=1' })).status).toBe(404);
  });

  it('sends a new stream the latest frame at once', async () => {
    const { url } = await start();
    const first = await get(url, { path: '/dashboard/events', until: '\n\n' });
    await clock.advance(1_000); // the first read
    const second = await get(url, { path: '/dashboard/events', until: '"phase":"healthy"' });
    expect(second.headers['content-type']).toBe('text/event-stream');
    first.close();
    second.close();
  });

  it(`keeps at most ${MAX_STREAMS} event streams; the next is told to retry later`, async () => {
    const { url } = await start();
    const open = await Promise.all(
      Array.from({ length: MAX_STREAMS }, () => get(url, { path: '/dashboard/events', until: '' })),
    );
    expect(open.every((s) => s.status === 200)).toBe(true);
    const refused = await get(url, { path: '/dashboard/events' });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();
    for (const stream of open) stream.close();
  });

  it('lets go of a client that does not read its stream instead of buffering for it', async () => {
    const big = frame('x'.repeat(1024 * 1024));
    const { url, streams } = await start(async () => big);
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write('GET /dashboard/events HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause(); // never reads
    await until(() => streams() === 1);
    // Up to 100 frames of 1 MB: far more than the socket buffers hold.
    for (let i = 0; i < 100 && streams() > 0; i++) await clock.advance(1_000);
    expect(streams()).toBe(0);
    socket.destroy();
  });

  it('tells the page the demo ended, with how it went, before it closes', async () => {
    const { url, stop, streams } = await start();
    const stream = get(url, { path: '/dashboard/events' });
    await until(() => streams() === 1); // the page is watching
    await clock.advance(1_000);
    await stop({ ok: false, targets: [{ name: 'a target', ok: false, value: 'missed it' }] });
    dashboard = undefined;
    const { body } = await stream;
    expect(body).toContain(
      'event: end\ndata: {"ok":false,"targets":[{"name":"a target","ok":false,"value":"missed it"}]}\n\n',
    );
  });

  it('tells the page at once when stopped, without waiting for a read of the APIs still under way', async () => {
    // On a busy machine a read can take seconds; Ctrl-C or kill gives the page 2 s to hear of it.
    let reads = 0;
    const { url, stop, streams } = await start(() => {
      reads++;
      return new Promise<DashboardState>(() => {}); // an API that does not answer
    });
    const stream = get(url, { path: '/dashboard/events' });
    await until(() => streams() === 1);
    await clock.advance(1_000); // the first read, which never ends
    expect(reads).toBe(1);
    await stop({ stopped: true, signal: 'SIGTERM' });
    dashboard = undefined;
    expect((await stream).body).toContain('event: end\ndata: {"stopped":true,"signal":"SIGTERM"}\n\n');
  });
});

// The test: a real server in a child process and a real SIGTERM sent to it.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rawClient, send } from '../testing/http.js';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'resilience-shutdown-'));
const bundle = join(dir, 'signal-server.mjs');
const children: ChildProcess[] = [];

beforeAll(async () => {
  // Bundled from source with core's source, so the test needs no build.
  await build({
    entryPoints: [here('./fixtures/signal-server.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    logLevel: 'silent',
    plugins: [
      {
        name: 'core-from-source',
        setup(b) {
          b.onResolve({ filter: /^@resilience\/core(\/internal)?$/ }, (args) => ({
            path: here(`../../../core/src/${args.path.endsWith('/internal') ? 'internal' : 'index'}.ts`),
          }));
        },
      },
    ],
  });
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Message {
  type: string;
  port?: number;
  message?: string;
}

/** Starts the fixture; `next(type)` resolves with the next message of that type (buffered). */
function start(mode: 'drain' | 'timeout' | 'throwing-logger' | 'upgrade' | 'hung-dependency') {
  const child = fork(bundle, [], {
    env: { ...process.env, SHUTDOWN_MODE: mode },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const seen: Message[] = [];
  const waiting: Array<{ match: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
  child.on('message', (message: Message) => {
    const i = waiting.findIndex((w) => w.match(message));
    if (i === -1) seen.push(message);
    else waiting.splice(i, 1)[0]!.resolve(message);
  });
  const next = (match: (m: Message) => boolean) =>
    new Promise<Message>((resolve) => {
      const i = seen.findIndex(match);
      if (i !== -1) resolve(seen.splice(i, 1)[0]!);
      else waiting.push({ match, resolve });
    });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    next: (type: string) => next((m) => m.type === type),
    log: (pattern: RegExp) => next((m) => m.type === 'log' && pattern.test(m.message ?? '')),
    exited,
    stderr: () => stderr,
  };
}

const refused = (port: number) =>
  send(port).then(
    () => 'accepted',
    (error: NodeJS.ErrnoException) => error.code,
  );

describe('gracefulShutdown on a real SIGTERM', () => {
  it('answers readiness 503 during the drain, refuses new connections, lets the request in flight finish, then exits 0', async () => {
    const { child, next, log, exited } = start('drain');
    const { port } = (await next('listening')) as { port: number };
    const agent = new http.Agent({ keepAlive: true });
    const inFlight = send(port, { path: '/slow', agent });
    await next('slow-started');
    expect((await send(port, { path: '/health/ready' })).status).toBe(200);

    child.kill('SIGTERM');
    await next('draining');
    const ready = await send(port, { path: '/health/ready' });
    expect(ready.status).toBe(503);
    expect(ready.headers.connection).toBe('close');

    child.send({ type: 'proceed' });
    await log(/refusing new connections; 1 request\(s\) in flight/);
    expect(await refused(port)).toBe('ECONNREFUSED');

    child.send({ type: 'release' });
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('slow done');
    expect(reply.headers.connection).toBe('close');
    await next('onShutdown');
    expect(await exited).toBe(0);
    agent.destroy();
  }, 30_000);

  it('answers readiness 503 at once after SIGTERM through healthRoute, though a dependency check now hangs: it is not run again', async () => {
    const { child, next, exited } = start('hung-dependency');
    const { port } = (await next('listening')) as { port: number };
    expect((await send(port, { path: '/health/ready' })).status).toBe(200);

    child.kill('SIGTERM');
    await next('draining');
    for (let i = 0; i < 3; i++) {
      const ready = await send(port, { path: '/health/ready' });
      expect([ready.status, ready.headers['x-dependency-calls']]).toEqual([503, '1']);
    }
    child.send({ type: 'proceed' });
    await next('onShutdown');
    expect(await exited).toBe(0);
  }, 30_000);

  it('with a logger that throws, drains through SIGTERM and a SIGINT after it: the request in flight is answered, the exit 0', async () => {
    const { child, next, exited } = start('throwing-logger');
    const { port } = (await next('listening')) as { port: number };
    const inFlight = send(port, { path: '/slow' });
    await next('slow-started');
    child.kill('SIGTERM');
    const crashed = exited.then((code) => Promise.reject(new Error(`exited with ${code} while draining`)));
    await Promise.race([next('draining'), crashed]);
    child.kill('SIGINT');
    child.send({ type: 'proceed' });
    child.send({ type: 'release' });
    expect((await Promise.race([inFlight, crashed])).text).toBe('slow done');
    await next('onShutdown');
    expect(await exited).toBe(0);
  }, 30_000);

  it('exits non-zero past timeoutMs, naming the request still open', async () => {
    const { child, next, exited, stderr } = start('timeout');
    const { port } = (await next('listening')) as { port: number };
    const hanging = send(port, { path: '/slow?token=secret' }).catch((error: Error) => error);
    await next('slow-started');
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
    expect(stderr()).toMatch(
      /timed out after 200 ms while closing; still open: 1 request\(s\) in flight \(GET \/slow\)/,
    );
    expect(stderr()).not.toMatch(/secret/);
    await hanging;
  }, 30_000);

  it('ends a WebSocket the app upgraded once the server closes, instead of waiting for it until timeoutMs: onShutdown runs, the exit is 0', async () => {
    const { child, next, log, exited } = start('upgrade');
    const { port } = (await next('listening')) as { port: number };
    const socket = await rawClient(port);
    socket.socket.write('GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    await socket.until('101 Switching Protocols');
    const closed = new Promise((resolve) => socket.socket.once('close', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await log(/refusing new connections; 0 request\(s\) in flight; ending 1 upgraded connection\(s\)/);
    await next('onShutdown');
    await closed;
  }, 30_000);
});

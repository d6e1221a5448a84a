import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { type EventLogger, health, isConfigurationError } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { timeoutArm } from '../middleware/timeout.js';
import { deferred, type Served, send, serve } from '../testing/http.js';
import { type GracefulShutdownOptions, SHUTDOWN_DEFAULTS } from './options.js';
import { type GracefulShutdown, gracefulShutdown } from './shutdown.js';

const SIGNAL = 'SIGUSR2'; // emitted with process.emit: no real signal reaches the test runner

let served: Served | undefined;

/** Serves `/slow`, answered once `release` resolves; `started` resolves when a request has come. */
async function serveSlowly() {
  const started = deferred();
  const release = deferred();
  served = await serve(async (_req, res) => {
    started.resolve();
    await release.promise;
    res.end('slow done');
  });
  return { started, release, server: served.server, port: served.port };
}
let handle: GracefulShutdown | undefined;
afterEach(async () => {
  handle?.dispose();
  handle = undefined;
  await served?.close();
  served = undefined;
});

/**
 * A real server with readiness/liveness routes, `/slow` and `/stream` requests the test
 * releases, and a graceful shutdown on a FakeClock with `exit` and the logger recorded.
 */
async function setup({ withoutHealth, ...options }: GracefulShutdownOptions & { withoutHealth?: true } = {}) {
  const clock = new FakeClock();
  const probes = health().register('event-loop', () => true, { kind: 'liveness' });
  const started = { slow: deferred(), stream: deferred() };
  const release = deferred();
  const events: string[] = [];
  const logs: string[] = [];
  const logger: EventLogger = {
    info: (_f, message) => logs.push(`info ${message}`),
    warn: (_f, message) => logs.push(`warn ${message}`),
    error: (_f, message) => logs.push(`error ${message}`),
  };
  served = await serve(async (req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/ready' || path === '/live') {
      const report = await probes.run({ kind: path === '/ready' ? 'readiness' : 'liveness' });
      res.statusCode = report.status === 'unhealthy' ? 503 : 200;
      res.end(report.status);
    } else if (path === '/slow' || path === '/hang') {
      started.slow.resolve();
      if (path === '/slow') await release.promise;
      else await new Promise(() => {});
      res.end('slow done', () => events.push('in-flight response finished'));
    } else if (path === '/broken') {
      res.write('part');
      started.slow.resolve();
      await release.promise;
      res.destroy(new Error('disk failed')); // as `stream.pipeline(source, res)` does when the source fails
    } else if (path === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('streaming…');
      started.stream.resolve();
      await release.promise;
      res.end(' done');
    } else res.end('ok');
  });
  const exited = deferred<number>();
  const server = served.server;
  const port = served.port;
  handle = gracefulShutdown(server, {
    signals: [SIGNAL],
    ...(withoutHealth ? {} : { health: probes }),
    clock,
    logger,
    exit: (code) => exited.resolve(code),
    ...options,
  });
  return { clock, probes, started, release, events, logs, exited: exited.promise, server, port, handle };
}

/** A shutdown of `server` on `clock` that logs nothing and notes `onShutdown` in `events`; resolves with the exit code. */
function shutdownNoting(server: http.Server, clock: FakeClock, events: string[]): Promise<number> {
  const exited = deferred<number>();
  handle = gracefulShutdown(server, {
    signals: [SIGNAL],
    clock,
    logger: { info() {}, warn() {}, error() {} },
    exit: (code) => exited.resolve(code),
    onShutdown: () => {
      events.push('onShutdown');
    },
  });
  return exited.promise;
}

const refused = (port: number) =>
  send(port).then(
    () => 'accepted',
    (error: NodeJS.ErrnoException) => error.code,
  );

describe('gracefulShutdown', () => {
  it('pins its defaults', () => {
    expect(SHUTDOWN_DEFAULTS).toEqual({
      signals: ['SIGTERM', 'SIGINT'],
      drainDelayMs: 0,
      timeoutMs: 10_000,
      abandonedHoldMs: 5_000,
      maxAbandoned: 1_000,
      checkName: 'shutdown',
    });
  });

  it('fails readiness at once, accepts during the drain delay, then refuses new connections while the request in flight finishes', async () => {
    const { clock, started, release, events, exited, port, server } = await setup({
      drainDelayMs: 5_000,
      onShutdown: () => {
        events.push(`onShutdown, listening=${server.listening}`);
      },
    });
    expect((await send(port, { path: '/ready' })).status).toBe(200);
    const agent = new http.Agent({ keepAlive: true });
    const inFlight = send(port, { path: '/slow', agent });
    await started.slow.promise;

    process.emit(SIGNAL);
    expect(handle?.phase).toBe('draining');
    expect((await send(port, { path: '/ready' })).status).toBe(503);
    expect((await send(port, { path: '/live' })).status).toBe(200);
    const duringDrain = await send(port, { path: '/', agent }); // a keep-alive client, answered at once
    expect(duringDrain.status).toBe(200);
    expect(duringDrain.headers.connection).toBe('close');

    await clock.advance(5_000);
    expect(handle?.phase).toBe('closing');
    expect(await refused(port)).toBe('ECONNREFUSED');

    release.resolve();
    const finished = await inFlight;
    expect(finished.text).toBe('slow done');
    expect(finished.headers.connection).toBe('close');
    expect(await exited).toBe(0);
    expect(events).toEqual(['in-flight response finished', 'onShutdown, listening=false']);
    expect(handle?.phase).toBe('exited');
    agent.destroy();
  });

  it('closes idle keep-alive connections at once and busy ones as their responses end', async () => {
    const { started, release, exited, port, server } = await setup();
    server.keepAliveTimeout = 0; // Node would otherwise keep a finished keep-alive connection for good
    const sockets: Socket[] = [];
    server.on('connection', (socket) => sockets.push(socket));
    const idleAgent = new http.Agent({ keepAlive: true });
    const busyAgent = new http.Agent({ keepAlive: true });
    await send(port, { agent: idleAgent }); // leaves an idle keep-alive connection
    const streaming = send(port, { path: '/stream', agent: busyAgent }); // headers sent before the signal
    await started.stream.promise;
    expect(sockets).toHaveLength(2);
    const [idle, busy] = sockets as [Socket, Socket];
    const idleClosed = new Promise((resolve) => idle.once('close', resolve));

    process.emit(SIGNAL);
    await idleClosed;
    expect(busy.destroyed).toBe(false);

    release.resolve();
    expect((await streaming).text).toBe('streaming… done');
    expect(await exited).toBe(0);
    expect(busy.destroyed).toBe(true);
    idleAgent.destroy();
    busyAgent.destroy();
  });

  it("closes a connection after the signal even when the app's response says `Connection: keep-alive` (a proxy copies its upstream's)", async () => {
    const started = deferred();
    const release = deferred();
    served = await serve(async (req, res) => {
      res.setHeader('Connection', 'keep-alive'); // set before the signal, on the request in flight
      if (req.url === '/slow') {
        started.resolve();
        await release.promise;
      }
      res.setHeader('connection', 'keep-alive');
      res.end('ok');
    });
    const sockets: Socket[] = [];
    served.server.on('connection', (socket) => sockets.push(socket));
    const agent = new http.Agent({ keepAlive: true });
    handle = gracefulShutdown(served.server, {
      signals: [SIGNAL],
      drainDelayMs: 60_000,
      timeoutMs: 120_000,
      clock: new FakeClock(),
      logger: { info() {}, warn() {}, error() {} },
      exit: () => {},
    });
    const inFlight = send(served.port, { path: '/slow', agent });
    await started.promise;
    process.emit(SIGNAL);
    release.resolve();
    expect((await inFlight).headers.connection).toBe('close');
    expect((await send(served.port, { agent })).headers.connection).toBe('close');
    expect(sockets).toHaveLength(2); // each response closed its connection
    agent.destroy();
  });

  it("closes a connection after the signal when the app gives `Connection: keep-alive` to writeHead itself, no header set before (a proxy's `writeHead(upstream.statusCode, upstream.headers)`)", async () => {
    const forms: Record<string, http.OutgoingHttpHeaders | http.OutgoingHttpHeader[]> = {
      '/object': { 'content-type': 'text/plain', Connection: 'keep-alive' },
      '/flat': ['Content-Type', 'text/plain', 'connection', 'keep-alive'],
      '/pairs': [
        ['content-type', 'text/plain'],
        ['CONNECTION', 'keep-alive'],
      ] as unknown as http.OutgoingHttpHeader[],
    };
    served = await serve((req, res) => {
      // No setHeader before: Node stores these fields as they are, past `res.setHeader`.
      if (req.url === '/reason') res.writeHead(200, 'Fine', { connection: 'keep-alive' });
      else res.writeHead(200, forms[req.url!]);
      res.end('ok');
    });
    const sockets: Socket[] = [];
    served.server.on('connection', (socket) => sockets.push(socket));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    handle = gracefulShutdown(served.server, {
      signals: [SIGNAL],
      drainDelayMs: 60_000,
      timeoutMs: 120_000,
      clock: new FakeClock(),
      logger: { info() {}, warn() {}, error() {} },
      exit: () => {},
    });
    expect((await send(served.port, { path: '/object', agent })).headers.connection).toBe('keep-alive');
    process.emit(SIGNAL);
    for (const path of ['/object', '/flat', '/pairs', '/reason']) {
      const reply = await send(served.port, { path, agent });
      expect([path, reply.headers.connection, reply.headers['content-type'], reply.text]).toEqual([
        path,
        'close',
        path === '/reason' ? undefined : 'text/plain',
        'ok',
      ]);
    }
    expect(sockets).toHaveLength(4); // each response after the signal closed its connection (the first, the one kept alive)
    agent.destroy();
  });

  it('answers a request pipelined behind the one in flight before closing their connection, then exits', async () => {
    const { started, release, exited, port } = await setup();
    // A connection that has sent nothing yet (a preconnect) is closed only once no request is in flight.
    const preconnected = net.connect(port, '127.0.0.1');
    preconnected.on('error', () => {});
    await once(preconnected, 'connect');
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let text = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
    const closed = once(socket, 'close');
    // One write: both requests reach the server together, the second queued behind the first.
    socket.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await started.slow.promise;
    process.emit(SIGNAL);
    release.resolve();
    await closed;
    // The first keeps the connection for the second, answered (`ok`, its head written before
    // the signal) once the first has gone; the connection closes once idle, the server closing.
    expect(text.match(/^Connection: \S+|slow done|ok$/gm)).toEqual([
      'Connection: keep-alive',
      'slow done',
      'Connection: keep-alive',
      'ok',
    ]);
    expect(await exited).toBe(0);
  });

  it('does not hold onShutdown for a response the server destroyed with an error (a stream that failed): its handler is done', async () => {
    const { started, release, exited, port } = await setup({ abandonedHoldMs: 60_000, timeoutMs: 120_000 });
    const broken = send(port, { path: '/broken' }).catch((error: Error) => error);
    await started.slow.promise;
    process.emit(SIGNAL);
    release.resolve();
    expect(await broken).toBeInstanceOf(Error);
    expect(await exited).toBe(0);
  });

  it('closes connections that have sent no request, or only part of one, once no request is in flight', async () => {
    const { started, release, exited, port } = await setup({ timeoutMs: 1_000 });
    const connect = async () => {
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      return socket;
    };
    const silent = await connect(); // a preconnected socket (browsers, pools) that never sends
    const partial = await connect();
    partial.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // headers not finished
    const inFlight = send(port, { path: '/slow' });
    await started.slow.promise;
    const closed = Promise.all([once(silent, 'close'), once(partial, 'close')]);

    process.emit(SIGNAL);
    release.resolve();
    expect((await inFlight).text).toBe('slow done');
    await closed;
    expect(await exited).toBe(0); // well before timeoutMs: the FakeClock never moved
  });

  it("leaves connections open while a request it does not see (the app's own 'checkContinue') is in flight", async () => {
    const { release, exited, port, server } = await setup();
    const continued = deferred();
    server.on('checkContinue', async (_req, res) => {
      res.writeContinue();
      continued.resolve();
      await release.promise;
      res.end('continued');
    });
    const expecting = new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', headers: { expect: '100-continue' } });
      req.on('continue', () => req.end('body'));
      req.on('response', (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
    });
    await continued.promise;
    process.emit(SIGNAL);
    await new Promise((resolve) => setImmediate(resolve));
    expect(handle?.phase).toBe('closing'); // connections were closed as far as they would be
    release.resolve();
    expect(await expecting).toBe('continued');
    expect(await exited).toBe(0);
  });

  it.each([
    ['', undefined],
    // Node then keeps an idle keep-alive connection for good: it closes once answered, not at timeoutMs.
    [', with keepAliveTimeout 0 on a keep-alive connection', 0],
  ])(
    'does not cut off a request already in flight when it was called (attached after the server began serving)%s',
    async (_, keepAliveTimeout) => {
      const { started, release, server, port } = await serveSlowly();
      if (keepAliveTimeout !== undefined) server.keepAliveTimeout = keepAliveTimeout;
      const agent = new http.Agent({ keepAlive: true });
      const inFlight = send(port, { path: '/slow', agent });
      await started.promise;
      const exited = deferred<number>();
      handle = gracefulShutdown(server, {
        signals: [SIGNAL],
        timeoutMs: 1_000,
        clock: new FakeClock(), // never advanced: the shutdown must not need its timeout
        logger: { info() {}, warn() {}, error() {} },
        exit: (code) => exited.resolve(code),
      });
      await new Promise((resolve) => setImmediate(resolve));
      process.emit(SIGNAL);
      await new Promise((resolve) => setImmediate(resolve));
      release.resolve();
      expect((await inFlight).text).toBe('slow done');
      expect(await exited.promise).toBe(0);
      agent.destroy();
    },
  );

  it('exits with 1 after timeoutMs, naming the requests still open (without their query)', async () => {
    const { clock, started, logs, exited, port } = await setup({ timeoutMs: 1_000 });
    void send(port, { path: '/hang?token=secret' }).catch(() => {});
    await started.slow.promise;
    process.emit(SIGNAL);
    await clock.advance(999);
    expect(handle?.phase).toBe('closing');
    await clock.advance(1);
    expect(await exited).toBe(1);
    const report = logs.find((line) => line.startsWith('error'));
    expect(report).toMatch(
      /timed out after 1000 ms while closing; still open: 1 request\(s\) in flight \(GET \/hang\)/,
    );
    expect(report).not.toMatch(/secret/);
  });

  it.each(['beforeShutdown', 'onShutdown'] as const)(
    'exits with 1 after timeoutMs when %s hangs, and the log names it',
    async (hook) => {
      const entered = deferred();
      const hang = () => {
        entered.resolve();
        return new Promise(() => {});
      };
      const { clock, logs, exited } = await setup({ timeoutMs: 1_000, [hook]: hang });
      process.emit(SIGNAL);
      await entered.promise;
      await clock.advance(1_000);
      expect(await exited).toBe(1);
      expect(logs.find((line) => line.startsWith('error'))).toMatch(
        new RegExp(
          `timed out after 1000 ms while (draining|finishing): ${hook} has not returned; still open: 0 request`,
        ),
      );
    },
  );

  it('goes on when beforeShutdown fails, and exits with 1 when onShutdown fails', async () => {
    const { logs, exited } = await setup({
      beforeShutdown: () => Promise.reject(new Error('no websockets to close')),
      onShutdown: () => {
        throw new Error('pool would not close');
      },
    });
    process.emit(SIGNAL);
    expect(await exited).toBe(1);
    expect(logs.filter((line) => line.startsWith('error'))).toEqual([
      'error shutdown: beforeShutdown failed: no websockets to close',
      'error shutdown: onShutdown failed: pool would not close',
    ]);
  });

  it("logs a hook's failure on one line: the control characters of its message escaped", async () => {
    const { logs, exited } = await setup({
      onShutdown: () => {
        throw new Error('pool would not close\nerror shutdown: complete');
      },
    });
    process.emit(SIGNAL);
    expect(await exited).toBe(1);
    expect(logs.filter((line) => line.startsWith('error'))).toEqual([
      'error shutdown: onShutdown failed: pool would not close\\u{a}error shutdown: complete',
    ]);
  });

  it('exits with 1, saying why, when onShutdown throws a value with no string form', async () => {
    const { logs, exited } = await setup({
      onShutdown: () => {
        throw Object.create(null);
      },
    });
    process.emit(SIGNAL);
    expect(await exited).toBe(1);
    expect(logs).toContain('error shutdown: onShutdown failed: [object without a message]');
  });

  it('shuts down once however often it is asked, and stops listening once done', async () => {
    const { logs, exited, server } = await setup();
    const listeners = process.listenerCount(SIGNAL);
    const first = handle!.shutdown('deploy');
    process.emit(SIGNAL);
    expect(handle!.shutdown()).toBe(first);
    expect(await first).toBe(0);
    expect(await exited).toBe(0);
    expect(logs.filter((line) => line.includes('received again'))).toHaveLength(1);
    expect(logs[0]).toBe('info shutdown: deploy; readiness fails from now on');
    expect(process.listenerCount(SIGNAL)).toBe(listeners - 1);
    expect(server.listenerCount('request')).toBe(1);
  });

  it('with two servers (an app and its metrics port), exits only once both have drained, turning readiness off once', async () => {
    const { clock, probes, started, release, logs, exited, port } = await setup();
    const metricsPort = await serve((_req, res) => res.end('metrics'));
    const metricsExits: number[] = [];
    const metricsDone = deferred();
    const second = gracefulShutdown(metricsPort.server, {
      signals: [SIGNAL],
      health: probes,
      clock,
      logger: { info() {}, warn() {}, error: (_f, message) => logs.push(`error ${message}`) },
      exit: (code) => metricsExits.push(code),
      onShutdown: () => metricsDone.resolve(),
    });
    try {
      const inFlight = send(port, { path: '/slow' });
      await started.slow.promise;
      process.emit(SIGNAL);
      await metricsDone.promise; // the metrics server has closed and its onShutdown ran
      await new Promise((resolve) => setImmediate(resolve));
      expect(metricsExits).toEqual([]); // the process must not exit under the app's request
      expect(second.phase).not.toBe('exited');

      release.resolve();
      expect((await inFlight).text).toBe('slow done');
      expect(await exited).toBe(0);
      expect(await second.shutdown()).toBe(0);
      expect(metricsExits).toEqual([0]);
      expect(logs.filter((line) => line.startsWith('error'))).toEqual([]);
      expect(probes.names.filter((name) => name === 'shutdown')).toHaveLength(1);
    } finally {
      second.dispose();
      await metricsPort.close();
    }
  });

  it('an idle metrics server with the default timeoutMs does not exit the process at its own deadline while the app drains within its longer one', async () => {
    // The app: a Kubernetes setup (10 s drain delay, 25 s timeout); the metrics port: the defaults (timeoutMs 10 s).
    const { clock, started, release, logs, exited, port } = await setup({ drainDelayMs: 10_000, timeoutMs: 25_000 });
    const metricsPort = await serve((_req, res) => res.end('metrics'));
    const metricsExits: number[] = [];
    const metricsLogs: string[] = [];
    const second = gracefulShutdown(metricsPort.server, {
      signals: [SIGNAL],
      clock,
      logger: { info() {}, warn() {}, error: (_f, message) => metricsLogs.push(message) },
      exit: (code) => metricsExits.push(code),
    });
    try {
      const inFlight = send(port, { path: '/slow' });
      await started.slow.promise;
      process.emit(SIGNAL);
      await clock.advance(10_000); // the metrics shutdown's deadline; the app starts refusing connections
      await clock.advance(5_000);
      expect([metricsExits, metricsLogs]).toEqual([[], []]); // the process must not exit under the app's request
      release.resolve();
      expect((await inFlight).text).toBe('slow done');
      expect(await exited).toBe(0);
      expect(await second.shutdown()).toBe(0);
      expect(metricsExits).toEqual([0]);
      expect(logs.filter((line) => line.startsWith('error'))).toEqual([]);
    } finally {
      second.dispose();
      await metricsPort.close();
    }
  });

  it('waits for the handler of a request a timeout answered: its 503 closed, but onShutdown (closing pools) runs only once the handler is done', async () => {
    const clock = new FakeClock();
    const arm = timeoutArm({ ms: 1_000, clock });
    const entered = deferred();
    const release = deferred();
    const events: string[] = [];
    served = await serve((_req, res) => {
      arm(res, async () => {
        entered.resolve();
        await release.promise; // works on past its deadline, ignoring the signal
        res.end('late');
        events.push('handler ended');
      });
    });
    const exited = shutdownNoting(served.server, clock, events);
    const reply = send(served.port);
    await entered.promise;
    await clock.advance(1_000);
    expect((await reply).status).toBe(503);
    process.emit(SIGNAL);
    await once(served.server, 'close'); // every connection has closed
    release.resolve();
    expect(await exited).toBe(0);
    expect(events).toEqual(['handler ended', 'onShutdown']);
  });

  describe('a request whose client left before its answer', () => {
    /** A server whose handler works on until `release` (ignoring the signal), then maybe ends the response; its client connected and waiting. */
    async function held(options: { ends: boolean }) {
      const clock = new FakeClock();
      const entered = deferred();
      const left = deferred();
      const release = deferred();
      const events: string[] = [];
      served = await serve(async (_req, res) => {
        res.on('close', () => left.resolve()); // after the shutdown's own listener, added ahead of the app
        entered.resolve();
        await release.promise;
        if (options.ends) res.end('late');
        events.push('handler done');
      });
      const exited = shutdownNoting(served.server, clock, events);
      const client = http.request({ host: '127.0.0.1', port: served.port, agent: false });
      client.on('error', () => {});
      client.end();
      await entered.promise;
      return { clock, release, events, exited, client, left, closed: once(served.server, 'close') };
    }

    /** The same, its client gone before the signal. */
    async function leftBehind(options: { ends: boolean }) {
      const h = await held(options);
      h.client.destroy();
      await h.left.promise;
      process.emit(SIGNAL);
      await h.closed; // every connection has closed
      return h;
    }

    it('holds onShutdown (closing pools) until its handler has ended the response', async () => {
      const { release, events, exited } = await leftBehind({ ends: true });
      expect(events).toEqual([]);
      release.resolve();
      expect(await exited).toBe(0);
      expect(events).toEqual(['handler done', 'onShutdown']);
    });

    it('holds it too for a client that leaves after the signal, on the last connection (the server closes before that response does)', async () => {
      const { release, events, exited, client, closed } = await held({ ends: true });
      process.emit(SIGNAL);
      client.destroy();
      await closed;
      expect(events).toEqual([]);
      release.resolve();
      expect(await exited).toBe(0);
      expect(events).toEqual(['handler done', 'onShutdown']);
    });

    it('holds it abandonedHoldMs when the handler never ends the response (Koa ends none whose client left)', async () => {
      const { clock, release, events, exited } = await leftBehind({ ends: false });
      release.resolve();
      await clock.advance(4_999);
      expect(events).toEqual(['handler done']);
      await clock.advance(1);
      expect(await exited).toBe(0);
      expect(events).toEqual(['handler done', 'onShutdown']);
    });
  });

  it('without a health registry, its log does not claim that readiness fails', async () => {
    const { logs, exited } = await setup({ withoutHealth: true });
    process.emit(SIGNAL, SIGNAL); // as Node emits a real signal: with its name
    expect(await exited).toBe(0);
    expect(logs[0]).toBe(
      'info shutdown: SIGUSR2; no health registry given, so readiness stays as it was: the load balancer learns nothing before connections are refused',
    );
  });

  it('dispose removes its signal and request listeners', async () => {
    const { server } = await setup();
    expect(process.listenerCount(SIGNAL)).toBe(1);
    expect(server.listenerCount('request')).toBe(2);
    handle!.dispose();
    expect(process.listenerCount(SIGNAL)).toBe(0);
    expect(server.listenerCount('request')).toBe(1);
  });

  describe('what an SRE throws at it', () => {
    /** A logger each of whose calls throws, as a log sink that has gone away does. */
    const throwing: EventLogger = {
      info() {
        throw new Error('log sink closed');
      },
      warn() {
        throw new Error('log sink closed');
      },
      error() {
        throw new Error('log sink closed');
      },
    };

    it('a logger that throws costs its lines, never the drain: the request in flight is answered, a second signal ignored, the exit 0', async () => {
      const { clock, started, release, exited, port } = await setup({ logger: throwing, drainDelayMs: 1_000 });
      const inFlight = send(port, { path: '/slow' });
      await started.slow.promise;
      process.emit(SIGNAL, SIGNAL); // its first line throws
      process.emit(SIGNAL, SIGNAL); // "received again" throws
      expect(handle?.phase).toBe('draining');
      await clock.advance(1_000);
      expect(handle?.phase).toBe('closing');
      release.resolve();
      expect((await inFlight).text).toBe('slow done');
      expect(await exited).toBe(0);
    });

    it('a logger that throws still gets the exit 1 at timeoutMs', async () => {
      const { clock, started, exited, port } = await setup({ logger: throwing, timeoutMs: 1_000 });
      void send(port, { path: '/hang' }).catch(() => {});
      await started.slow.promise;
      process.emit(SIGNAL);
      await clock.advance(1_000);
      expect(await exited).toBe(1);
    });

    it("with keepAliveTimeout 0, the keep-alive connection of the app's own 'checkContinue' answer closes once answered", async () => {
      const { release, exited, port, server } = await setup({ timeoutMs: 1_000 });
      server.keepAliveTimeout = 0;
      const continued = deferred();
      server.on('checkContinue', async (req, res) => {
        res.writeContinue();
        req.resume();
        continued.resolve();
        await release.promise;
        res.end('continued');
      });
      const agent = new http.Agent({ keepAlive: true });
      const expecting = new Promise<string | undefined>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          agent,
          headers: { expect: '100-continue' },
        });
        req.on('continue', () => req.end('body'));
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers.connection));
        });
        req.on('error', reject);
      });
      await continued.promise;
      process.emit(SIGNAL);
      release.resolve();
      expect(await expecting).toBe('keep-alive'); // an answer it never saw: its headers are the app's
      expect(await exited).toBe(0);
      agent.destroy();
    });

    it.each([
      ['TCP', () => 0],
      ['a Unix socket', () => path.join(os.tmpdir(), `shutdown-${process.pid}-${Date.now()}.sock`)],
    ])(
      'on an https server over %s, a connection still in its TLS handshake (a health check, a stalled client) closes once no request is in flight, not at handshakeTimeout',
      async (_, where) => {
        const server = https.createServer((_req, res) => res.end('ok')); // no certificate: no handshake completes here
        const at = where();
        if (at === 0) server.listen(0, '127.0.0.1');
        else server.listen(at);
        await once(server, 'listening');
        const address = server.address();
        const exited = deferred<number>();
        handle = gracefulShutdown(server, {
          signals: [SIGNAL],
          timeoutMs: 1_000,
          clock: new FakeClock(), // never advanced
          logger: { info() {}, warn() {}, error() {} },
          exit: (code) => exited.resolve(code),
        });
        const handshaking =
          typeof address === 'string'
            ? net.connect(address)
            : net.connect((address as net.AddressInfo).port, '127.0.0.1');
        handshaking.on('error', () => {});
        await once(handshaking, 'connect');
        await new Promise((resolve) => setImmediate(resolve)); // the server has accepted it
        try {
          process.emit(SIGNAL);
          await once(handshaking, 'close');
          expect(await exited.promise).toBe(0);
        } finally {
          handshaking.destroy();
          server.closeAllConnections();
        }
      },
    );

    it('on an https server, a connection handed over as a stream (a tunnel, which may carry an upgraded socket) is left to its own end', async () => {
      const server = https.createServer((_req, res) => res.end('ok'));
      const clock = new FakeClock();
      const exited = deferred<number>();
      handle = gracefulShutdown(server, {
        signals: [SIGNAL],
        timeoutMs: 1_000,
        clock,
        logger: { info() {}, warn() {}, error() {} },
        exit: (code) => exited.resolve(code),
      });
      const tunnel = new PassThrough();
      server.emit('connection', tunnel);
      process.emit(SIGNAL);
      await new Promise((resolve) => setImmediate(resolve));
      expect(tunnel.destroyed).toBe(false);
      tunnel.destroy();
      await clock.advance(1_000);
      await exited.promise;
    });

    it('a server that starts listening after the signal (the signal came during startup) closes again at once: nothing is served while onShutdown closes the pool', async () => {
      const server = http.createServer((_req, res) => res.end('ok'));
      const inOnShutdown = deferred();
      const finishOnShutdown = deferred();
      const exited = deferred<number>();
      handle = gracefulShutdown(server, {
        signals: [SIGNAL],
        clock: new FakeClock(),
        logger: { info() {}, warn() {}, error() {} },
        exit: (code) => exited.resolve(code),
        onShutdown: async () => {
          inOnShutdown.resolve();
          await finishOnShutdown.promise;
        },
      });
      try {
        process.emit(SIGNAL); // before listen
        await inOnShutdown.promise;
        // The app's own callback still reads its address; the server closes right after it.
        const port = new Promise<number>((resolve) =>
          server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
        );
        expect(await port).toBeGreaterThan(0);
        await new Promise((resolve) => setImmediate(resolve));
        expect(server.listening).toBe(false);
        finishOnShutdown.resolve();
        expect(await exited.promise).toBe(0);
      } finally {
        server.close();
      }
    });

    it('refuses an http2 secure server that also speaks HTTP/1 (allowHTTP1), as the docs say of every node:http2 server', () => {
      const server = http2.createSecureServer({ allowHTTP1: true });
      expect(() => gracefulShutdown(server as never, { signals: [] })).toThrow(/server: received a Http2SecureServer/);
      expect(() => gracefulShutdown(http2.createServer() as never, { signals: [] })).toThrow(
        /server: received a Http2Server/,
      );
    });
  });

  it('rejects bad options at construction, naming every one', () => {
    const server = http.createServer();
    const bad = (options: unknown, target: unknown = server) => {
      try {
        gracefulShutdown(target as http.Server, options as GracefulShutdownOptions);
      } catch (error) {
        expect(isConfigurationError(error)).toBe(true);
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(bad({}, {})).toMatch(/server/);
    expect(bad({ signals: ['SIGTERN'] })).toMatch(/signals/);
    expect(bad({ drainDelayMs: -1, timeoutMs: -5 })).toMatch(/drainDelayMs[\s\S]*timeoutMs/);
    expect(bad({ drainDelayMs: 5_000, timeoutMs: 5_000 })).toMatch(/timeoutMs/);
    expect(bad({ abandonedHoldMs: -1 })).toMatch(/abandonedHoldMs/);
    expect(bad({ logger: { info() {} }, exit: 1, onShutdown: 'x', clock: {} })).toMatch(
      /onShutdown[\s\S]*logger[\s\S]*exit[\s\S]*clock/,
    );
    expect(bad({ health: health().register('shutdown', () => true) })).toMatch(/health[\s\S]*'shutdown'/);
    expect(bad({ signal: 'SIGTERM' })).toMatch(/signal/);
    // terminus' logger is one function; terminus adds its signal (SIGTERM) to whatever signals lists.
    expect(bad({ logger: (_message: string, _error?: Error) => {} })).toContain(
      "logger: received a function, expected a logger with info, warn and error methods (terminus' (message, error)? here pino-style (fields, message))",
    );
    expect(bad({ signal: 'SIGUSR2' })).toContain(
      'signal: received "SIGUSR2", expected a known option (another library\'s? here: signals, the whole list (terminus adds signal to it))',
    );
    // terminus' names, whose look-alikes here do not take them as they are.
    expect(bad({ timeout: 25_000 })).toContain(
      "timeout: received 25000, expected a known option (another library's? here: timeoutMs, counted from the signal: drainDelayMs + terminus' timeout)",
    );
    expect(bad({ healthChecks: {}, timeoutMs: -1 })).toMatch(
      /healthChecks: received \{\}, expected a known option \(another library's\? here: health, a health\(\) registry for readiness; serve it with healthRoutes\(registry\)\)[\s\S]*timeoutMs/,
    );
    // And the rest of terminus' names, each with the row of docs/migrating.md that ports it.
    const hint = (text: string) => `expected a known option (another library's? here: ${text})`;
    expect(bad({ onSigterm: () => {} })).toContain(hint("onShutdown (terminus' onSigterm is its onSignal)"));
    expect(bad({ sendFailuresDuringShutdown: true })).toContain(
      hint('health: from the signal /health/ready answers 503, the other routes as before'),
    );
    expect(bad({ useExit0: true })).toContain(
      hint('none: the exit code is 0, or 1 when onShutdown fails or timeoutMs passes'),
    );
    for (const name of ['statusOk', 'statusOkResponse', 'statusError', 'statusErrorResponse']) {
      expect(bad({ [name]: 200 })).toContain(
        hint('none: 200 for pass or warn, 503 for fail, as application/health+json'),
      );
    }
    expect(bad({ caseInsensitive: true, headers: {} })).toMatch(
      /caseInsensitive: .*here: none: healthRoutes' paths are case-sensitive\)[\s\S]*headers: .*here: none: a CORS middleware mounted before healthRoutes adds them\)/,
    );
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });

  /** Removes the `signal` listeners added since `before` was read: what a failed install would leave behind. */
  const removeAdded = (signal: NodeJS.Signals, before: readonly unknown[]) => {
    for (const listener of process.listeners(signal)) if (!before.includes(listener)) process.off(signal, listener);
  };

  it('refuses SIGKILL and SIGSTOP, which no process can catch, naming signals and installing nothing', () => {
    const server = http.createServer();
    const before = process.listeners(SIGNAL);
    try {
      for (const uncatchable of ['SIGKILL', 'SIGSTOP'] as const) {
        let thrown: unknown;
        try {
          gracefulShutdown(server, { signals: [SIGNAL, uncatchable] });
        } catch (error) {
          thrown = error;
        }
        expect(isConfigurationError(thrown)).toBe(true);
        expect((thrown as Error).message).toBe(
          `Invalid gracefulShutdown options: signals: received ["${SIGNAL}","${uncatchable}"], expected signals a process can listen for (SIGKILL and SIGSTOP cannot be caught)`,
        );
        expect(process.listenerCount(SIGNAL)).toBe(before.length);
        expect(server.listenerCount('request')).toBe(0);
      }
      // An unknown name is still told as one.
      expect(() => gracefulShutdown(server, { signals: ['SIGTERN' as never, 'SIGKILL'] })).toThrow(
        /signals: received .*, expected a list of signal names such as 'SIGTERM'$/,
      );
    } finally {
      removeAdded(SIGNAL, before);
    }
  });

  it('undoes what it installed when installing fails half-way, rethrowing the failure: no signal or server listener is left', () => {
    const server = https.createServer((_req, res) => res.end('ok'));
    server.on('upgrade', () => {}); // so the upgrade tracking installs a listener of its own too
    const events = ['request', 'connection', 'secureConnection', 'upgrade', 'newListener', 'removeListener'];
    const counts = () => events.map((event) => server.listenerCount(event));
    const serverBefore = counts();
    const before = process.listeners(SIGNAL);
    const failure = new Error('listener refused');
    let added = 0;
    // Another library's hook that refuses the second signal listener, once the first is in.
    const hook = (event: string | symbol) => {
      if (event === SIGNAL && ++added === 2) throw failure;
    };
    process.on('newListener', hook);
    try {
      expect(() => gracefulShutdown(server, { signals: [SIGNAL, SIGNAL] })).toThrow(failure);
    } finally {
      process.off('newListener', hook);
      removeAdded(SIGNAL, before);
    }
    expect(added).toBe(2);
    expect(process.listenerCount(SIGNAL)).toBe(before.length);
    expect(counts()).toEqual(serverBefore);
    // Nothing stays half-installed to get in the way of a later call.
    gracefulShutdown(server, { signals: [SIGNAL] }).dispose();
    expect(counts()).toEqual(serverBefore);
  });

  it('rejects a drainDelayMs not below the default timeoutMs, saying the default applied', () => {
    const server = http.createServer();
    expect(() => gracefulShutdown(server, { drainDelayMs: 12_000 })).toThrow(
      'Invalid gracefulShutdown options: drainDelayMs: received 12000, expected a number below timeoutMs (10000, the default)',
    );
    expect(() => gracefulShutdown(server, { drainDelayMs: SHUTDOWN_DEFAULTS.timeoutMs })).toThrow(/drainDelayMs/);
    // Reported once: a drain delay that is no number is not compared as well.
    expect(() => gracefulShutdown(server, { drainDelayMs: Number.POSITIVE_INFINITY })).toThrow(
      /^Invalid gracefulShutdown options: drainDelayMs: received Infinity, expected a finite number >= 0$/,
    );
    gracefulShutdown(server, { drainDelayMs: SHUTDOWN_DEFAULTS.timeoutMs - 1, signals: [] }).dispose();
    gracefulShutdown(server, { drainDelayMs: 12_000, timeoutMs: 25_000, signals: [] }).dispose();
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });

  it('rejects an abandonedHoldMs the deadline always cuts short (the exit would be 1, onShutdown skipped)', () => {
    const server = http.createServer();
    // At most what timeoutMs leaves after drainDelayMs, the defaults counted.
    expect(() => gracefulShutdown(server, { abandonedHoldMs: 30_000, timeoutMs: 25_000 })).toThrow(
      'Invalid gracefulShutdown options: abandonedHoldMs: received 30000, expected a finite number >= 0 <= 25000',
    );
    expect(() => gracefulShutdown(server, { abandonedHoldMs: 10_001 })).toThrow(/abandonedHoldMs: .* <= 10000$/);
    expect(() => gracefulShutdown(server, { abandonedHoldMs: 5_001, drainDelayMs: 5_000, timeoutMs: 10_000 })).toThrow(
      /abandonedHoldMs: .* <= 5000$/,
    );
    // A bad timeoutMs is reported once, not compared as well.
    expect(() => gracefulShutdown(server, { abandonedHoldMs: 1_000, timeoutMs: 'soon' as never })).toThrow(
      /^Invalid gracefulShutdown options: timeoutMs: [^;]*$/,
    );
    // The default hold yields to a shorter deadline: not refused.
    gracefulShutdown(server, { timeoutMs: 3_000, signals: [] }).dispose();
    gracefulShutdown(server, { abandonedHoldMs: 5_000, drainDelayMs: 5_000, timeoutMs: 10_000, signals: [] }).dispose();
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });
});

import { once } from 'node:events';
import http from 'node:http';
import net, { type Socket } from 'node:net';
import { health } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { rawClient } from '@resilience/node-server/testing';
import { expect } from 'vitest';
import { deferred } from '../context.js';
import type { Context, Scenario } from '../scenario.js';

/** A GET through `agent` (keep-alive): its status and `Connection` header, the body read out. */
function keepAliveGet(port: number, path: string, agent: http.Agent) {
  return new Promise<{ status: number | undefined; connection: string | undefined }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection }));
      })
      .on('error', reject);
  });
}

/**
 * A shutdown of `server` whose drain outlasts the test (no signals, no exit), the connections
 * the server opens from now on, and a keep-alive agent of one socket to count them with.
 */
function draining(t: Context, server: http.Server, options: { health?: ReturnType<typeof health> } = {}) {
  const connections: Socket[] = [];
  server.on('connection', (socket: Socket) => connections.push(socket));
  const shutdown = t.m.gracefulShutdown(server, {
    signals: [],
    ...options,
    drainDelayMs: 60_000,
    timeoutMs: 120_000,
    exit: () => {},
    logger: t.logger(),
    clock: new FakeClock(0),
  });
  return { connections, shutdown, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
}

export const shutdownScenarios: Scenario[] = [
  {
    area: 'gracefulShutdown',
    name: 'turns readiness to 503 at once, serves during the drain delay, lets the request in flight finish, then exits 0',
    async run(t) {
      const clock = new FakeClock(0);
      const probes = health();
      const release = deferred();
      const entered = deferred();
      const exited = deferred<number>();
      const app = await t.serve([
        t.m.healthRoutes(probes),
        t.m.route('GET', '/work', async () => {
          entered.resolve();
          await release.promise;
          return { json: { done: true } };
        }),
      ]);
      const shutdown = t.m.gracefulShutdown(app.server, {
        signals: [],
        health: probes,
        drainDelayMs: 5_000,
        timeoutMs: 20_000,
        exit: (code) => exited.resolve(code),
        logger: t.logger(),
        clock,
      });
      expect((await app.fetch('/health/ready')).status).toBe(200);
      const inFlight = app.fetch('/work');
      await entered.promise;
      const done = shutdown.shutdown('test');
      expect((await app.fetch('/health/ready', { headers: { connection: 'close' } })).status).toBe(503);
      expect((await app.fetch('/health/live', { headers: { connection: 'close' } })).status).toBe(200);
      await clock.advance(5_000);
      expect(shutdown.phase).toBe('closing');
      release.resolve();
      expect(await (await inFlight).json()).toEqual({ done: true });
      expect(await exited.promise).toBe(0);
      expect(await done).toBe(0);
    },
  },
  {
    area: 'gracefulShutdown',
    name: 'from the signal on readiness answers 503 at once, running no dependency check: a hung database neither holds the probe nor gets one per probe',
    async run(t) {
      let calls = 0;
      const hung = deferred();
      const probes = health({ clock: new FakeClock(0) }).register(
        'postgres',
        () => (++calls === 1 ? true : hung.promise),
        { timeoutMs: 60_000, critical: true },
      );
      const app = await t.serve([t.m.healthRoutes(probes)]);
      const { shutdown } = draining(t, app.server, { health: probes });
      try {
        expect((await app.fetch('/health/ready')).status).toBe(200);
        void shutdown.shutdown('test');
        for (const path of ['/health/ready', '/health', '/health/ready']) {
          const res = await app.fetch(path, { headers: { connection: 'close' } });
          const body = (await res.json()) as { status: string; checks: Record<string, unknown> };
          expect([res.status, body.status, Object.keys(body.checks)]).toEqual([503, 'fail', ['shutdown:responseTime']]);
        }
        expect((await app.fetch('/health/live', { headers: { connection: 'close' } })).status).toBe(200);
        expect(calls).toBe(1);
      } finally {
        hung.resolve();
        shutdown.dispose();
      }
    },
  },
  {
    area: 'gracefulShutdown',
    name: 'a registry of your own (not made by health()) given to both: from the signal readiness answers 503 at once, its run() not called',
    async run(t) {
      const hung = deferred();
      const inner = health({ clock: new FakeClock(0) }).register('postgres', () => hung.promise, {
        timeoutMs: 60_000,
        critical: true,
      });
      let runs = 0;
      // A wrapper of the app's own: it counts its runs and delegates the rest.
      const own = {
        cacheMs: 0,
        get names() {
          return inner.names;
        },
        register: (...args: Parameters<typeof inner.register>) => {
          inner.register(...args);
          return own;
        },
        run: (options?: Parameters<typeof inner.run>[0]) => {
          runs++;
          return inner.run(options);
        },
      } as unknown as ReturnType<typeof health>;
      const app = await t.serve([t.m.healthRoutes(own)]);
      const { shutdown } = draining(t, app.server, { health: own });
      try {
        void shutdown.shutdown('test');
        const res = await app.fetch('/health/ready', { headers: { connection: 'close' } });
        const body = (await res.json()) as { checks: Record<string, unknown> };
        expect([res.status, Object.keys(body.checks)]).toEqual([503, ['shutdown:responseTime']]);
        expect(runs).toBe(0);
        expect(inner.names).toContain('shutdown');
      } finally {
        hung.resolve();
        shutdown.dispose();
      }
    },
  },
  {
    area: 'gracefulShutdown',
    name: 'from the signal on every response closes its connection, an error answered by the framework included (Koa drops every header on its error path)',
    async run(t) {
      const probes = health();
      const app = await t.serve([
        t.m.route('GET', '/ok', () => ({ text: 'ok' })),
        t.m.route('GET', '/boom', () => {
          throw new Error('boom');
        }),
      ]);
      const { connections, shutdown, agent } = draining(t, app.server, { health: probes });
      try {
        expect(await keepAliveGet(app.port, '/ok', agent)).toEqual({ status: 200, connection: 'keep-alive' });
        void shutdown.shutdown('test');
        for (const path of ['/boom', '/ok']) {
          expect([path, await keepAliveGet(app.port, path, agent)]).toEqual([
            path,
            { status: path === '/ok' ? 200 : 500, connection: 'close' },
          ]);
        }
        // Each response after the signal closed its connection: the client opened a new one for the next.
        expect(connections).toHaveLength(2);
      } finally {
        agent.destroy();
        shutdown.dispose();
      }
    },
  },
  {
    area: 'gracefulShutdown',
    name: "from the signal on a response that says `Connection: keep-alive` (a proxy's copy of its upstream's, an error's own headers) still closes its connection",
    async run(t) {
      const app = await t.serve([
        t.m.route('GET', '/ka', () => ({ headers: { connection: 'keep-alive' }, text: 'ok' })),
        // An http-errors error of a proxy route, its upstream's Connection among its headers.
        t.m.route('GET', '/ka-error', () => {
          throw Object.assign(new Error('bad gateway'), { status: 502, headers: { connection: 'keep-alive' } });
        }),
        t.m.errorHandler({ logger: t.logger() }),
      ]);
      const { connections, shutdown, agent } = draining(t, app.server);
      try {
        void shutdown.shutdown('test');
        for (const path of ['/ka', '/ka-error']) {
          expect([path, await keepAliveGet(app.port, path, agent)]).toEqual([
            path,
            { status: path === '/ka' ? 200 : 502, connection: 'close' },
          ]);
        }
        expect(connections).toHaveLength(2);
      } finally {
        agent.destroy();
        shutdown.dispose();
      }
    },
  },
  {
    area: 'gracefulShutdown',
    name: 'an idle keep-alive connection and a preconnected one that never sent a request do not hold the shutdown: it exits 0 once the request in flight is answered',
    async run(t) {
      const release = deferred();
      const entered = deferred();
      const exited = deferred<number>();
      const app = await t.serve([
        t.m.route('GET', '/ok', () => ({ text: 'ok' })),
        t.m.route('GET', '/work', async () => {
          entered.resolve();
          await release.promise;
          return { text: 'done' };
        }),
      ]);
      const shutdown = t.m.gracefulShutdown(app.server, {
        signals: [],
        timeoutMs: 1_000,
        exit: (code) => exited.resolve(code),
        logger: t.logger(),
        clock: new FakeClock(0), // never advanced: the shutdown must not need its timeout
      });
      const agent = new http.Agent({ keepAlive: true });
      const preconnected = net.connect(app.port, '127.0.0.1');
      try {
        await once(preconnected, 'connect');
        expect(await keepAliveGet(app.port, '/ok', agent)).toEqual({ status: 200, connection: 'keep-alive' });
        const inFlight = app.fetch('/work');
        await entered.promise;
        const done = shutdown.shutdown('test');
        release.resolve();
        expect(await (await inFlight).text()).toBe('done');
        await once(preconnected, 'close');
        expect(await exited.promise).toBe(0);
        expect(await done).toBe(0);
      } finally {
        agent.destroy();
        preconnected.destroy();
        shutdown.dispose();
      }
    },
  },
  {
    area: 'gracefulShutdown',
    name: 'called once the server already serves, it lets a request in flight since before the call finish instead of cutting its connection',
    async run(t) {
      const release = deferred();
      const entered = deferred();
      const exited = deferred<number>();
      const app = await t.serve([
        t.m.route('GET', '/work', async () => {
          entered.resolve();
          await release.promise;
          return { text: 'done' };
        }),
      ]);
      const inFlight = app.fetch('/work');
      await entered.promise;
      const shutdown = t.m.gracefulShutdown(app.server, {
        signals: [],
        timeoutMs: 60_000,
        exit: (code) => exited.resolve(code),
        logger: t.logger(),
        clock: new FakeClock(0),
      });
      try {
        await new Promise((resolve) => setImmediate(resolve));
        const done = shutdown.shutdown('test');
        await new Promise((resolve) => setImmediate(resolve));
        release.resolve();
        expect(await (await inFlight).text()).toBe('done');
        expect(await exited.promise).toBe(0);
        expect(await done).toBe(0);
      } finally {
        shutdown.dispose();
      }
    },
  },
  {
    area: 'gracefulShutdown',
    name: 'answers every request pipelined on a connection, those in flight at the signal and those that come during the drain, and closes it after the last',
    async run(t) {
      let runs = 0;
      const entered = deferred();
      const release = deferred();
      const app = await t.serve([
        t.m.route('POST', '/', async () => {
          if (++runs === 1) entered.resolve();
          await release.promise;
          return { json: { run: runs } };
        }),
      ]);
      const { shutdown } = draining(t, app.server);
      const three = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'.repeat(3);
      // The connection whose Connection: close went on the first answer of three.
      const answers = (client: Awaited<ReturnType<typeof rawClient>>) =>
        client.text().match(/HTTP\/1\.1 \d+|^connection: \S+/gim);
      try {
        const before = await rawClient(app.port);
        before.socket.write(three); // one write: the three run at once
        await entered.promise;
        await new Promise((resolve) => setImmediate(resolve)); // Node has parsed them all
        void shutdown.shutdown('test');
        const during = await rawClient(app.port);
        during.socket.write(three);
        release.resolve();
        for (const client of [before, during]) {
          const closed = once(client.socket, 'close');
          await client.until('HTTP/1.1 ', 3);
          await closed;
          const keptAlive = ['HTTP/1.1 200', 'Connection: keep-alive'];
          expect(answers(client)).toEqual([...keptAlive, ...keptAlive, 'HTTP/1.1 200', 'Connection: close']);
        }
        expect(runs).toBe(6);
      } finally {
        shutdown.dispose();
      }
    },
  },
];

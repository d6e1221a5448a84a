import { health } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { expect } from 'vitest';
import { deferred } from '../context.js';
import type { Scenario } from '../scenario.js';

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
];

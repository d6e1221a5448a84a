import { ConfigurationError, fixedWindow, health, rateLimiter } from '@resilience/core';
import { expect } from 'vitest';
import type { Scenario } from '../scenario.js';

/** `build()` must throw a ConfigurationError naming each of `names`. */
function refuses(build: () => unknown, ...names: string[]): void {
  let error: unknown;
  try {
    build();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigurationError);
  for (const name of names) expect((error as Error).message).toContain(name);
}

export const optionScenarios: Scenario[] = [
  {
    area: 'options',
    name: 'every factory refuses bad options at construction with one ConfigurationError naming each',
    async run(t) {
      const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 1_000 }) });
      refuses(() => t.m.rateLimit({}), 'algorithm');
      refuses(() => t.m.rateLimit({ limiter, store: {} as never, headrs: 'draft' } as never), 'store', 'headrs');
      refuses(
        () =>
          t.m.rateLimit({ algorithm: fixedWindow({ limit: 1, windowMs: 1_000 }), cost: -1, headers: 'new' as never }),
        'cost',
        'headers',
      );
      // A cost the limit can never admit would fail every request (a 500), not refuse it.
      refuses(() => t.m.rateLimit({ algorithm: fixedWindow({ limit: 5, windowMs: 1_000 }), cost: 6 }), 'cost', '<= 5');
      refuses(() => t.m.rateLimit({ limiter, cost: 2 }), 'cost', '<= 1');
      refuses(
        () => t.m.idempotency({ methods: 'POST' as never, maxBodyBytes: -1, header: 'bad header' }),
        'methods',
        'maxBodyBytes',
        'header',
      );
      refuses(() => t.m.timeout({} as never), 'ms');
      refuses(() => t.m.timeout({ ms: 0 }), 'ms');
      refuses(() => t.m.loadShedding({ maxConcurrent: 0, queue: -1 }), 'maxConcurrent', 'queue');
      refuses(() => t.m.errorHandler({ expose: 'yes' as never, recentErrors: {} as never }), 'expose', 'recentErrors');
      refuses(() => t.m.healthRoutes(health(), { prefix: 'ops/' }), 'prefix');
      // A BigInt version threw from JSON.stringify in every health response: refused here.
      refuses(() => t.m.healthRoutes(health(), { version: 5n as never, notes: 'n' as never }), 'version', 'notes');
      refuses(() => t.m.metricsRoute({ registry: {} as never }), 'registry');
      refuses(() => t.m.adminRoutes({ authorize: () => true, prefix: '/api/' }), 'prefix');
      // A challenge Node would refuse as a header value fails every 401 (a 500) at run time: refused here.
      for (const challenge of ['Bearer realm="a\u0000"', 'Bearer \u007f', 'Bearer 令牌'])
        refuses(() => t.m.adminRoutes({ authorize: () => true, challenge }), 'challenge');
      t.m.adminRoutes({ authorize: () => true, challenge: 'Basic realm="ops\té"' });
      refuses(() => t.m.gracefulShutdown({} as never), 'server');
    },
  },
  {
    area: 'options',
    name: 'options a core factory checks underneath are named as written, in the same error as the rest',
    async run(t) {
      const issues = (build: () => unknown): string[] => {
        try {
          build();
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigurationError);
          return (error as ConfigurationError).issues.map((i) => `${i.option}=${String(i.received)}`);
        }
        throw new Error('accepted');
      };
      const algorithm = fixedWindow({ limit: 1, windowMs: 1_000 });
      // store and onStoreError go to rateLimiter(): a rateLimit error still, beside the other bad options.
      expect(issues(() => t.m.rateLimit({ algorithm, onStoreError: 'x' as never, name: '' }))).toEqual(['name=']);
      expect(() => t.m.rateLimit({ algorithm, onStoreError: 'x' as never, cost: -1 })).toThrow(
        /^Invalid rateLimit options: cost: .*; onStoreError: received "x"/,
      );
      expect(issues(() => t.m.rateLimit({ algorithm: {} as never }))).toEqual(['algorithm=[object Object]']);
      // adaptive's options as adaptive.*; its maxLimit is maxConcurrent, never silently replaced.
      expect(issues(() => t.m.loadShedding({ maxConcurrent: 10, adaptive: { maxLimit: 50 } as never }))).toEqual([
        'adaptive.maxLimit=50',
      ]);
      expect(issues(() => t.m.loadShedding({ maxConcurrent: 10, adaptive: { minLimit: 50 } }))).toEqual([
        'maxConcurrent=10',
      ]);
      expect(issues(() => t.m.loadShedding({ maxConcurrent: 10, queue: -1, adaptive: { smoothing: 2 } }))).toEqual([
        'queue=-1',
        'adaptive.smoothing=2',
      ]);
      // errorHandler's collector is checked by the request recorder: named with the rest.
      expect(issues(() => t.m.errorHandler({ collector: 3 as never, expose: 'yes' as never }))).toEqual([
        'expose=yes',
        'collector=3',
      ]);
      // A collectors value that is no object of collectors was taken as none.
      for (const collectors of [2, 'default', null])
        expect(issues(() => t.m.adminRoutes({ authorize: () => true, collectors: collectors as never }))).toEqual([
          `collectors=${String(collectors)}`,
        ]);
    },
  },
];

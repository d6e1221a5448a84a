/**
 * Correctness across processes: four node processes (a fleet, see testing/fleet.ts), each
 * with its own ioredis client, store and consumers, against one real redis-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from './testing/fleet.js';
import { type RedisServer, startRedis } from './testing/servers.js';

const SIZE = 4;
let server: RedisServer;
let fleet: Fleet;

beforeAll(async () => {
  server = await startRedis();
  fleet = await startFleet(SIZE, server.port, { TIMEOUT_MS: '200' });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
  await server?.stop();
});

describe('a fleet of four processes on one redis-server', () => {
  it.each(['tokenBucket', 'gcra', 'fixedWindow', 'slidingWindow'])(
    '%s: 4 × 50 concurrent consumes on one key, 10 000 attempts, admit exactly the limit of 1 000',
    async (algorithm) => {
      const answers = await fleet.all<{ admitted: number }>({
        kind: 'consume',
        algorithm,
        key: 'one-key',
        limit: 1_000,
        attempts: 2_500,
        concurrency: 50,
      });
      expect(answers.reduce((sum, a) => sum + a.admitted, 0)).toBe(1_000);
    },
    120_000,
  );

  it('4 × 100 concurrent executes of one idempotency key, each through its own instance: it runs once, every caller gets its result', async () => {
    const answers = await fleet.all<{ runs: number; results: unknown[] }>({
      kind: 'idempotency',
      key: 'order-1',
      callers: 100,
    });
    expect(answers.reduce((sum, a) => sum + a.runs, 0)).toBe(1);
    const results = answers.flatMap((a) => a.results);
    expect(results).toHaveLength(400);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(results[0]).toEqual({ ranIn: expect.any(Number) });
  }, 120_000);

  it.each([
    ['synchronised', false],
    ['per-call', true],
  ])(
    'a shared breaker (%s): 3 failures spread over the processes open it for all; half-open lets exactly one probe out fleet-wide',
    async (mode, perCall) => {
      await fleet.all({ kind: 'breaker', name: `fleet-${mode}`, perCall });
      // A call everywhere first, so each instance has read the shared state (closed), and its
      // success merged (a success merged after a failure would reset the consecutive count).
      expect((await fleet.all<{ entered: number }>({ kind: 'calls', n: 1 })).map((a) => a.entered)).toEqual([
        1, 1, 1, 1,
      ]);
      await fleet.all({ kind: 'release' });
      await fleet.all({ kind: 'sync' });
      for (const i of [0, 1, 2]) await fleet.all({ kind: 'fail', perCall }, [i]);
      // Within one syncMs (1 000) every instance sees it open, the fourth, which saw no failure, too.
      await fleet.all({ kind: 'advance', ms: 1_000 });
      const open = await fleet.all<{ entered: number; rejected: number }>({ kind: 'calls', n: 5 });
      expect(open).toEqual(Array(SIZE).fill({ entered: 0, rejected: 5 }));
      await fleet.all({ kind: 'release' });
      // halfOpenAfter (5 000) later, 4 × 5 calls at once: one probe runs in the whole fleet.
      await fleet.all({ kind: 'advance', ms: 5_000 });
      const halfOpen = await fleet.all<{ entered: number; rejected: number }>({ kind: 'calls', n: 5 });
      expect(halfOpen.reduce((sum, a) => sum + a.entered, 0)).toBe(1);
      expect(halfOpen.reduce((sum, a) => sum + a.rejected, 0)).toBe(19);
      expect((await fleet.all<string[]>({ kind: 'release' })).flat().sort()).toEqual([
        ...Array(19).fill('broken'),
        'ok',
      ]);
      // The probe succeeded: closed again, for every instance within one syncMs.
      await fleet.all({ kind: 'advance', ms: 1_000 });
      expect(await fleet.all({ kind: 'calls', n: 2 })).toEqual(Array(SIZE).fill({ entered: 2, rejected: 0 }));
      await fleet.all({ kind: 'release' });
    },
    120_000,
  );
});

interface Round {
  stillWaiting: number;
  allowed: number;
  degraded: number;
  storeErrors: number;
  idempotency: string[];
  idempotentRuns: number;
  breaker: string[];
  breakerRuns: number;
  breakerSync: string;
}

describe('the fleet when Redis goes away (timeoutMs 200, ioredis with its default options)', () => {
  it('passes limits (fail open, counted), refuses idempotent calls (fail closed), keeps the breaker deciding locally, holds nothing past timeoutMs, and recovers without a restart when Redis returns on the same port', async () => {
    const n = 20;
    const each = (rounds: Round[], expected: Partial<Round>) =>
      expect(rounds).toEqual(Array(SIZE).fill(expect.objectContaining(expected)));
    const ran = Array(n).fill('ran');
    each(await fleet.all<Round>({ kind: 'outage', n }), {
      allowed: n,
      degraded: 0,
      idempotency: ran,
      breaker: ran,
      breakerSync: 'ok',
    });

    await server.kill();
    // Every call settles once the store's clock has moved timeoutMs, not one more.
    each(await fleet.all<Round>({ kind: 'outage', n, advanceMs: 200 }), {
      stillWaiting: 0,
      allowed: n,
      degraded: n,
      storeErrors: n,
      idempotency: Array(n).fill('store_unavailable'),
      idempotentRuns: 0,
      breaker: ran,
      breakerRuns: n,
    });

    await server.restart();
    await fleet.all({ kind: 'ready' }); // ioredis reconnects by itself
    each(await fleet.all<Round>({ kind: 'outage', n }), {
      allowed: n,
      degraded: 0,
      storeErrors: n,
      idempotency: ran,
      idempotentRuns: n,
      breaker: ran,
      breakerSync: 'ok',
    });
    // No instance crashed or left a rejection unhandled; each client saw its connection go.
    for (const health of await fleet.all<{ crashes: number; clientCloses: number }>({ kind: 'health' })) {
      expect(health.crashes).toBe(0);
      expect(health.clientCloses).toBeGreaterThan(0);
    }
  }, 120_000);
});

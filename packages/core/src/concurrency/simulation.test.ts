// The simulation: a server with a capacity of N concurrent requests behind a
// bulkhead, on a FakeClock. With an adaptive limit the limit settles near N and throughput
// stays near capacity; with a fixed limit of 2N, latency grows without bound.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bulkhead } from '../bulkhead/bulkhead.js';
import type { BulkheadOptions } from '../bulkhead/options.js';
import { FakeClock } from '../clock/fake-clock.js';
import { adaptiveLimit } from './adaptive-limit.js';

const N = 20; // the server's capacity: requests it serves at once at full speed
const SERVICE_MS = 100; // a request's latency at or below capacity
const CAPACITY_PER_S = (N * 1_000) / SERVICE_MS; // 200 requests a second at best
const TICK_MS = 20;

/**
 * A server whose latency rises above N concurrent requests: the N cores are shared (latency
 * grows with c / N) and contention costs more on top (half as much again at 2N), so past N
 * its throughput falls: 90 % of capacity at 1.2 N, 67 % at 2 N.
 */
const latencyAt = (c: number) => (c <= N ? SERVICE_MS : SERVICE_MS * (c / N) * (1 + (0.5 * (c - N)) / N));

interface Done {
  readonly arrived: number;
  readonly finished: number;
}

/** Drives `perSecond(t)` arrivals through the bulkhead into the server for `durationMs`. */
async function simulate(
  limit: BulkheadOptions['limit'],
  options: { queue: number; maxQueueMs?: number },
  perSecond: (t: number) => number,
  durationMs: number,
  probe?: (t: number, pool: ReturnType<typeof bulkhead>) => void,
) {
  const clock = new FakeClock();
  const pool = bulkhead({ limit, ...options, clock });
  const done: Done[] = [];
  let concurrency = 0;
  let shed = 0;
  const serve = async () => {
    concurrency++;
    await clock.sleep(latencyAt(concurrency));
    concurrency--;
  };
  let owed = 0;
  const tick = () => {
    const t = clock.now();
    probe?.(t, pool);
    owed += (perSecond(t) * TICK_MS) / 1_000;
    for (; owed >= 1; owed--) {
      const arrived = clock.now();
      pool.execute(serve).then(
        () => done.push({ arrived, finished: clock.now() }),
        () => shed++,
      );
    }
    if (t + TICK_MS < durationMs) clock.setTimeout(tick, TICK_MS);
  };
  tick();
  await clock.advance(durationMs);
  /** Completions per second and mean latency (arrival to completion) of the requests finished in [from, to). */
  const window = (from: number, to: number) => {
    const inWindow = done.filter((d) => d.finished >= from && d.finished < to);
    return {
      throughput: (inWindow.length * 1_000) / (to - from),
      latencyMs: inWindow.reduce((sum, d) => sum + d.finished - d.arrived, 0) / inWindow.length,
    };
  };
  return { pool, window, shed: () => shed };
}

/** docs/load-shedding.md, which quotes this simulation's figures: they must be the ones it measures. */
const page = readFileSync(new URL('../../../../docs/load-shedding.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
/** The page's figures captured by `pattern` (a short failure message, not the whole page). */
const quoted = (pattern: RegExp) => page.match(pattern)?.slice(1);
const oneDecimal = (x: number) => x.toFixed(1);

describe('adaptive limit under a simulated server (FakeClock)', () => {
  it('under sustained overload settles within ±25 % of N and keeps throughput at ≥ 90 % of capacity', async () => {
    const estimates: number[] = [];
    const { window, shed } = await simulate(
      adaptiveLimit(),
      { queue: 50, maxQueueMs: 1_000 },
      () => 1.5 * CAPACITY_PER_S,
      150_000,
      (t, pool) => {
        if (t >= 20_000 && t % 1_000 === 0) estimates.push(pool.limitState?.limit ?? Number.NaN);
      },
    );
    // From 20 s on (two baseline measurements included): the learned limit stays near N ...
    expect(Math.min(...estimates)).toBeGreaterThanOrEqual(0.75 * N);
    expect(Math.max(...estimates)).toBeLessThanOrEqual(1.25 * N);
    // ... the server does nearly all it can, and the excess is shed rather than queued.
    expect(window(20_000, 150_000).throughput).toBeGreaterThanOrEqual(0.9 * CAPACITY_PER_S);
    expect(shed()).toBeGreaterThan(0);
    const [low, high] = [Math.min(...estimates), Math.max(...estimates)];
    const served = (100 * window(20_000, 150_000).throughput) / CAPACITY_PER_S;
    expect(quoted(/stays between ([\d.]+) and ([\d.]+) \(within \+(\d+) % of N/)).toEqual([
      oneDecimal(low),
      oneDecimal(high),
      String(Math.round((100 * high) / N - 100)),
    ]);
    expect(quoted(/Sustained overload.*?completes ([\d.]+) % of its capacity/)).toEqual([oneDecimal(served)]);
  });

  it('recovers from a surge that a fixed limit of 2N never recovers from: its latency grows without bound', async () => {
    // A one-second surge at three times capacity, then 85 % of capacity, with an unbounded queue.
    const load = (t: number) => (t < 1_000 ? 3 : 0.85) * CAPACITY_PER_S;
    const adaptive = await simulate(adaptiveLimit(), { queue: 100_000 }, load, 60_000);
    const fixed = await simulate(2 * N, { queue: 100_000 }, load, 60_000);

    const tens = [0, 10_000, 20_000, 30_000, 40_000, 50_000];
    const fixedLatency = tens.map((from) => fixed.window(from, from + 10_000).latencyMs);
    for (let i = 1; i < fixedLatency.length; i++) {
      expect(fixedLatency[i]).toBeGreaterThan(fixedLatency[i - 1]! + 10 * SERVICE_MS);
    }
    expect(fixed.window(50_000, 60_000).throughput).toBeLessThan(0.7 * CAPACITY_PER_S);
    const [first, ...later] = fixedLatency.map((ms) => oneDecimal(ms / 1_000));
    const served = Math.round((100 * fixed.window(50_000, 60_000).throughput) / CAPACITY_PER_S);
    expect(quoted(/stuck at 2 N where it completes (\d+) % of its capacity/)).toEqual([String(served)]);
    expect(quoted(/grows from ([\d.]+) s to ([\d., ]+) and ([\d.]+) s/)).toEqual([
      first,
      later.slice(0, -1).join(', '),
      later.at(-1),
    ]);

    // The adaptive limit drained the surge's backlog: requests take about one service time again.
    expect(adaptive.window(50_000, 60_000).latencyMs).toBeLessThan(1.5 * SERVICE_MS);
    expect(adaptive.window(50_000, 60_000).throughput).toBeGreaterThanOrEqual(0.84 * CAPACITY_PER_S);
    const recovered = tens.find((from) => Math.round(adaptive.window(from, from + 10_000).latencyMs) === SERVICE_MS);
    expect(quoted(/requests take (\d+) ms again after (\d+) s/)).toEqual([
      String(SERVICE_MS),
      String(recovered! / 1_000),
    ]);
  });
});

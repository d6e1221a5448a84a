import type { SuiteOptions, Task } from './harness.js';

// How tasks are timed so that ratios between them hold from run to run on a shared machine:
//
// - Batches, not single calls: a batch of calls runs back to back between two clock reads
//   (~125 ns each on a loaded machine), so the clock is no part of a task's figure. A batch
//   lasts ~0.5 ms (~20 ms for requests, see Pace); an async task's calls are awaited one by
//   one, as a caller would.
// - Rounds: a round runs one batch of every task, in a fresh seeded order each round. A
//   ratio is taken within each round, between batches a few milliseconds apart, so load
//   that comes and goes hits both sides alike; a target judges the median over the rounds
//   (400 by default, 90 for requests) and prints its spread.
// - One JIT state for all: every task is calibrated and warmed up (~250 ms of calls), in
//   shuffled orders, before any is measured. The call sites the tasks share (the loops below, a library's
//   code that several tasks use) have then seen every task, so none is measured while a
//   shared site is still specialised for it, and none pays alone for the deopt another
//   task's first run causes. (A target's two tasks are measured alone too: isolate.ts.)
// - GC: a full collection before the measured rounds, and a minor one before each batch,
//   so a batch never pays to collect garbage another task made; GC is left out of the
//   figures, as the per-call medians measured before left it out (requests: no forced
//   minor GC, see Pace). Timers and I/O a task left pending run between batches, not
//   inside another task's batch.

/**
 * How a comparison paces its tasks.
 * - `calls` (the default), for calls of nanoseconds to microseconds: batches of ~0.5 ms, each
 *   after a minor GC, GC left out of the figures.
 * - `requests`, for requests over loopback (hundreds of µs each): a round sends ~20 ms of
 *   requests of every task, one after another, the tasks' requests mixed in a shuffled order
 *   and each timed alone, with no forced GC. A task's figure is its time per request (the
 *   inverse of its requests/s) with its garbage collection included, and machine speed that
 *   drifts within the round weighs on every task alike: on a shared 2-core machine, whole
 *   20 ms batches taken in turn differed by ±20 % (IQR of a ratio), mixed requests by ±10 %.
 *   Paced as `calls`, a batch would be one request, just after a GC had flushed the CPU's
 *   caches: a cold request, whose cost grows with how much code it runs rather than how much
 *   work it does, and which no client sending requests one after another sends.
 */
export type Pace = 'calls' | 'requests';

const PACES = {
  /** Warm-up: ~250 ms of calls per task (tinybench gave 200): with 50 rounds, ours open-breaker rejection read 30 % slower. */
  calls: { batchNs: 500_000, mixed: false, warmupRounds: 500, rounds: 400 },
  /** Warm-up: ~0.5 s of requests per task. */
  requests: { batchNs: 20_000_000, mixed: true, warmupRounds: 25, rounds: 90 },
} as const satisfies Record<Pace, { batchNs: number; mixed: boolean; warmupRounds: number; rounds: number }>;

/** The measured rounds of a comparison: `--rounds`, else its pace's default (400 calls, 90 requests). */
export const roundsOf = (options: MeasureOptions): number => options.rounds ?? PACES[options.pace ?? 'calls'].rounds;

/** How `measure` runs: the suite's options, and the comparison's pace. */
export type MeasureOptions = Pick<SuiteOptions, 'quick' | 'rounds'> & { pace?: Pace };

/** Quick (smoke) mode: one batch of this many calls per task, nothing judged. */
const QUICK_CALLS = 20;

/** Quartiles and range of a task's (or a ratio's) figures over the rounds. */
export interface Spread {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  rounds: number;
}

const quantile = (sorted: readonly number[], q: number): number => {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
};

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    q1: quantile(sorted, 0.25),
    q3: quantile(sorted, 0.75),
    min: sorted[0]!,
    max: sorted.at(-1)!,
    rounds: sorted.length,
  };
}

const now = () => process.hrtime.bigint();

/** ns per call over `n` calls of a synchronous task. */
function timeSync(fn: () => unknown, n: number): number {
  const start = now();
  for (let i = 0; i < n; i++) fn();
  return Number(now() - start) / n;
}

/** ns per call over `n` awaited calls of an async task. */
async function timeAsync(fn: () => unknown, n: number): Promise<number> {
  const start = now();
  for (let i = 0; i < n; i++) await fn();
  return Number(now() - start) / n;
}

interface Timed {
  name: string;
  fn: () => unknown;
  async: boolean;
  /** Calls per batch. */
  n: number;
  rounds: number[];
}

const time = (t: Timed, n = t.n) => (t.async ? timeAsync(t.fn, n) : timeSync(t.fn, n));

const gc = (options?: { type: 'minor' }) => {
  const collect = (globalThis as { gc?: (options?: { type: 'minor' }) => void }).gc;
  if (!collect) throw new Error('run with node --expose-gc');
  collect(options);
};

/** Lets timers and I/O a task left behind run now, outside any measure. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** One batch of a round, after a minor GC and a turn of the event loop; ns per call. */
async function batch(t: Timed): Promise<number> {
  gc({ type: 'minor' });
  await settle();
  return time(t);
}

type Shuffle = ReturnType<typeof shuffler>;

/** A round of `calls`: one batch of each task, in a fresh order. */
async function batches(timed: readonly Timed[], shuffle: Shuffle): Promise<void> {
  for (const t of shuffle(timed)) t.rounds.push(await batch(t));
}

/** A round of `requests`: every task's calls mixed in a fresh order, each timed alone; ns per call. */
async function mixed(timed: readonly Timed[], shuffle: Shuffle): Promise<void> {
  const spent = new Map<Timed, number>(timed.map((t) => [t, 0]));
  await settle();
  for (const t of shuffle(timed.flatMap((t) => Array<Timed>(t.n).fill(t)))) {
    const start = now();
    await t.fn();
    spent.set(t, spent.get(t)! + Number(now() - start));
  }
  for (const t of timed) t.rounds.push(spent.get(t)! / t.n);
}

/** A seeded shuffle (xorshift32): a different order each round, the same orders each run. */
export function shuffler(seed = 0x9e3779b9) {
  let x = seed;
  return <T>(items: readonly T[]): T[] => {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const j = (x >>> 0) % (i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
}

/** Grows a batch until it lasts `target` ns; the calls also warm the task up. */
async function calibrate(t: Timed, target: number): Promise<void> {
  for (let n = 1; ; ) {
    const batchNs = (await time(t, n)) * n;
    if (batchNs >= target || n >= 1 << 24) return void (t.n = n);
    n = Math.ceil(n * Math.min(8, Math.max(2, (1.2 * target) / Math.max(batchNs, 1))));
  }
}

/**
 * Times every task in rounds and returns, by task name, its median ns per call in each
 * round (index = round, the same for every task, so ratios can be taken per round).
 */
export async function measure(tasks: readonly Task[], options: MeasureOptions): Promise<Map<string, number[]>> {
  const timed: Timed[] = [];
  for (const [name, fn] of tasks) {
    const first = fn();
    const async = typeof (first as { then?: unknown } | undefined)?.then === 'function';
    if (async) await first;
    timed.push({ name, fn, async, n: QUICK_CALLS, rounds: [] });
  }
  if (options.quick) {
    for (const t of timed) t.rounds.push(await time(t));
  } else {
    const pace = PACES[options.pace ?? 'calls'];
    const { batchNs, warmupRounds } = pace;
    const round = pace.mixed ? mixed : batches;
    const shuffle = shuffler();
    for (const t of timed) await calibrate(t, batchNs);
    for (let r = 0; r < warmupRounds; r++) await round(timed, shuffle);
    for (const t of timed) {
      // Calibrated on cold code, a batch may now be far shorter than batchNs: size it on warm code.
      t.n = Math.max(1, Math.round(batchNs / spread(t.rounds.slice(warmupRounds / 2)).median));
      t.rounds = [];
    }
    gc();
    for (let r = 0; r < roundsOf(options); r++) await round(timed, shuffle);
  }
  return new Map(timed.map((t) => [t.name, t.rounds]));
}

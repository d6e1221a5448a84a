import type { SuiteOptions, Task } from './harness.js';

// How tasks are timed so that ratios between them hold from run to run on a shared machine:
//
// - Batches, not single calls: a batch of calls runs back to back between two clock reads
//   (~125 ns each on a loaded machine), so the clock is no part of a task's figure. A batch
//   lasts ~0.5 ms; an async task's calls are awaited one by one, as a caller would.
// - Rounds: a round runs one batch of every task, in a fresh seeded order each round. A
//   ratio is taken within each round, between batches a few milliseconds apart, so load
//   that comes and goes hits both sides alike; a target judges the median over the rounds
//   (400 by default) and prints its spread.
// - One JIT state for all: every task is calibrated and warmed up (~250 ms of calls), in
//   shuffled orders, before any is measured. The call sites the tasks share (the loops below, a library's
//   code that several tasks use) have then seen every task, so none is measured while a
//   shared site is still specialised for it, and none pays alone for the deopt another
//   task's first run causes. (A target's two tasks are measured alone too: isolate.ts.)
// - GC: a full collection before the measured rounds, and a minor one before each batch,
//   so a batch never pays to collect garbage another task made; GC is left out of the
//   figures, as the per-call medians measured before left it out. Timers and I/O a task
//   left pending run between batches, not inside another task's batch.

export const DEFAULT_ROUNDS = 400;
/** ~250 ms of calls per task (tinybench gave 200): with 50, ours open-breaker rejection read 30 % slower. */
const WARMUP_ROUNDS = 500;
const BATCH_NS = 500_000;
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

/** Grows a batch until it lasts BATCH_NS; the calls also warm the task up. */
async function calibrate(t: Timed): Promise<void> {
  for (let n = 1; ; ) {
    const batchNs = (await time(t, n)) * n;
    if (batchNs >= BATCH_NS || n >= 1 << 24) return void (t.n = n);
    n = Math.ceil(n * Math.min(8, Math.max(2, (1.2 * BATCH_NS) / Math.max(batchNs, 1))));
  }
}

/**
 * Times every task in rounds and returns, by task name, its median ns per call in each
 * round (index = round, the same for every task, so ratios can be taken per round).
 */
export async function measure(tasks: readonly Task[], options: SuiteOptions): Promise<Map<string, number[]>> {
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
    const shuffle = shuffler();
    for (const t of timed) await calibrate(t);
    for (let r = 0; r < WARMUP_ROUNDS; r++) for (const t of shuffle(timed)) t.rounds.push(await batch(t));
    for (const t of timed) {
      // Calibrated on cold code, a batch may now be far shorter than BATCH_NS: size it on warm code.
      t.n = Math.max(1, Math.round(BATCH_NS / spread(t.rounds.slice(WARMUP_ROUNDS / 2)).median));
      t.rounds = [];
    }
    gc();
    for (let r = 0; r < (options.rounds ?? DEFAULT_ROUNDS); r++) {
      for (const t of shuffle(timed)) t.rounds.push(await batch(t));
    }
  }
  return new Map(timed.map((t) => [t.name, t.rounds]));
}

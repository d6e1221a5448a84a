import { Bench } from 'tinybench';

export interface SuiteOptions {
  /** CI smoke mode: a few iterations, numbers not meaningful. */
  quick: boolean;
}

export interface Target {
  /** Our task's name. */
  ours: string;
  /** The peer task's name. */
  peer: string;
  /** ours / peer median time must be at most this. */
  maxRatio: number;
}

export type Task = [name: string, fn: () => unknown];

/** A target's verdict; quick (smoke) runs are too short to judge. */
export const judge = (ok: boolean, options: SuiteOptions): string =>
  options.quick ? 'not judged in quick mode' : ok ? 'met' : 'MISSED';

const ns = (ms: number) => ms * 1e6;
const fmt = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)} µs` : `${n.toFixed(0)} ns`);

/**
 * Runs tasks in one process and prints median time per call, ratios against the first
 * task, and each target with met / missed. Returns the medians in ns by task name.
 */
export async function compare(
  title: string,
  tasks: Task[],
  options: SuiteOptions & { targets?: Target[] },
): Promise<Map<string, number>> {
  const bench = options.quick
    ? new Bench({ iterations: 20, warmup: false, time: 0 })
    : new Bench({ time: 600, warmupTime: 200 });
  for (const [name, fn] of tasks) bench.add(name, fn);
  await bench.run();
  const medians = new Map<string, number>();
  for (const task of bench.tasks) {
    const result = task.result as { latency?: { p50?: number } } | undefined;
    medians.set(task.name, ns(result?.latency?.p50 ?? Number.NaN));
  }
  const base = medians.get(tasks[0]?.[0] ?? '') ?? Number.NaN;
  console.log(`\n## ${title}${options.quick ? ' (quick mode: figures not meaningful)' : ''}`);
  console.table(
    [...medians].map(([task, median]) => ({
      task,
      'median / call': fmt(median),
      [`× ${tasks[0]?.[0]}`]: (median / base).toFixed(2),
    })),
  );
  for (const t of options.targets ?? [])
    printTarget(t.ours, t.peer, medians.get(t.ours), medians.get(t.peer), t.maxRatio, options);
  return medians;
}

/** Prints one `ours / peer` ratio against its target. */
export function printTarget(
  ours: string,
  peer: string,
  a: number | undefined,
  b: number | undefined,
  maxRatio: number,
  options: SuiteOptions,
) {
  if (a === undefined || b === undefined) throw new Error(`unknown task in target: ${ours} / ${peer}`);
  const ratio = a / b;
  const verdict = judge(ratio <= maxRatio, options);
  console.log(`target  ${ours} / ${peer} = ${ratio.toFixed(3)} (≤ ${maxRatio}) ${verdict}`);
}

const usedBytes = () => {
  const m = process.memoryUsage();
  // V8 keeps larger typed arrays outside the JS heap: count their backing stores too.
  return m.heapUsed + m.arrayBuffers;
};

const collect = () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
};

/**
 * Bytes retained per step: runs `fill(i)` `count` times (growing something `keep` returns)
 * and divides the heap and array-buffer growth after forced GCs. Needs `--expose-gc`.
 */
export function retainedBytesPerStep(count: number, fill: (i: number) => void, keep: () => unknown): number {
  collect();
  const before = usedBytes();
  for (let i = 0; i < count; i++) fill(i);
  collect();
  const perStep = (usedBytes() - before) / count;
  if (keep() === undefined) throw new Error('unreachable');
  return perStep;
}

/** Bytes retained per item made by `make(i)` and kept alive; the holding array's 8 bytes a slot are left out. */
export function retainedBytesPerItem(count: number, make: (i: number) => unknown): number {
  const kept: unknown[] = new Array(count);
  return (
    retainedBytesPerStep(
      count,
      (i) => void (kept[i] = make(i)),
      () => kept,
    ) - 8
  );
}

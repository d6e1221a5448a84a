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
    printTarget(t.ours, t.peer, medians.get(t.ours), medians.get(t.peer), t.maxRatio);
  return medians;
}

/** Prints one `ours / peer` ratio against its target. */
export function printTarget(
  ours: string,
  peer: string,
  a: number | undefined,
  b: number | undefined,
  maxRatio: number,
) {
  if (a === undefined || b === undefined) throw new Error(`unknown task in target: ${ours} / ${peer}`);
  const ratio = a / b;
  const verdict = ratio <= maxRatio ? 'met' : 'MISSED';
  console.log(`target  ${ours} / ${peer} = ${ratio.toFixed(3)} (≤ ${maxRatio}) ${verdict}`);
}

/**
 * Bytes retained per item: builds `count` items with `make(i)`, keeping what `keep`
 * returns alive, and measures heap growth after forced GCs. Needs `--expose-gc`.
 */
export function retainedBytesPerItem(count: number, make: (i: number) => unknown): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept: unknown[] = new Array(count);
  for (let i = 0; i < count; i++) kept[i] = make(i);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  // The array holding the items costs 8 bytes a slot; it is not part of the items.
  const perItem = (after - before - count * 8) / count;
  if (kept.length !== count) throw new Error('unreachable');
  return perItem;
}

import { answer, type Isolation, isolated, isolation } from './isolate.js';
import { measure, type Pace, roundsOf, type Spread, spread } from './measure.js';

const DEFAULT_FORKS = 3;

export interface SuiteOptions {
  /** CI smoke mode: each task runs a few times, nothing is judged. */
  quick: boolean;
  /** Measured rounds per comparison, after the warm-up. @default 400 */
  rounds?: number;
  /** Child processes that measure each target alone, sharing the rounds between them. @default 3 */
  forks?: number;
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

export type Verdict = 'met' | 'MISSED' | 'not judged';

/** One target as `--json` writes it: a later run's file is compared with `compare.mjs`. */
export interface TargetResult {
  /** `suite › section › target`: the same in every run, so two runs can be matched. */
  id: string;
  /** The median over the rounds for a ratio; the measured figure otherwise. */
  value: number;
  /** `'ratio'`, or the figure's unit (`'KiB'`, `'B'`). */
  unit: string;
  limit: number;
  /** The figure must be at least `limit` (a throughput share), not at most. */
  atLeast?: true;
  verdict: Verdict;
  /** A ratio's spread over the rounds; absent for a single measure (a memory figure). */
  spread?: Spread;
  /** A ratio's median measured beside the section's other tasks (`value` is measured alone). */
  beside?: number;
  /** A ratio's two tasks: median ns per call of each, measured alone. */
  ns?: Record<string, number>;
}

/**
 * True in a child process measuring one target alone (see isolate.ts). Such a child runs its
 * suite from the top and skips every other `compare`; a suite skips other work that would
 * run the measured code first, so that the target's tasks are the only ones it has seen.
 */
export const alone = isolation !== undefined;

const results: TargetResult[] = [];
let suite = '';
let sections = 0;

/** Every target judged (or shown, in quick mode) so far. */
export const targetResults = (): readonly TargetResult[] => results;

/** Names the suite whose targets follow (run.ts calls it before each suite). */
export function beginSuite(name: string): void {
  suite = name;
  sections = 0;
}

/** A target's verdict; quick (smoke) runs are too short to judge. */
export const judge = (ok: boolean, options: SuiteOptions): string =>
  options.quick ? 'not judged in quick mode' : ok ? 'met' : 'MISSED';

const fmt = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)} µs` : `${n.toFixed(n < 100 ? 1 : 0)} ns`);
const figure = (v: number) => v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 3);

/**
 * Prints one target, `label = value (≤ limit) met|MISSED`, and records it for `--json`.
 * `unit` names a figure's unit (`'KiB'`, `'B'`); a ratio has none. Judged on `value`, at
 * most `limit` or, with `atLeast`, at least; a ratio's `spread` over the rounds is printed
 * after the verdict.
 */
export function checkTarget(
  label: string,
  value: number,
  limit: number,
  options: SuiteOptions,
  extra: Partial<Pick<TargetResult, 'unit' | 'spread' | 'beside' | 'ns' | 'atLeast'>> & { section?: string } = {},
): boolean {
  const ok = extra.atLeast ? value >= limit : value <= limit;
  const unit = extra.unit ? ` ${extra.unit}` : '';
  let line = `target  ${label} = ${figure(value)}${unit} (${extra.atLeast ? '≥' : '≤'} ${limit}${unit}) ${judge(ok, options)}`;
  const s = extra.spread;
  if (s !== undefined && !options.quick) {
    line += `  [alone, ${s.rounds} rounds: IQR ${figure(s.q1)}–${figure(s.q3)}, range ${figure(s.min)}–${figure(s.max)}`;
    if (extra.beside !== undefined) line += `; beside the other tasks ${figure(extra.beside)}`;
    line += ']';
    if (s.q1 <= limit && limit <= s.q3) line += ' close call: the limit is inside the IQR';
  }
  console.log(line);
  results.push({
    id: [suite, extra.section, label].filter(Boolean).join(' › '),
    value,
    unit: extra.unit ?? 'ratio',
    limit,
    ...(extra.atLeast ? { atLeast: true as const } : {}),
    verdict: options.quick ? 'not judged' : ok ? 'met' : 'MISSED',
    ...(s === undefined ? {} : { spread: s }),
    ...(extra.beside === undefined ? {} : { beside: extra.beside }),
    ...(extra.ns === undefined ? {} : { ns: extra.ns }),
  });
  return ok;
}

/**
 * Measures tasks side by side and prints each one's median time per call, its ratio to the
 * first task, and each target with its verdict. The tasks run interleaved, in a fresh order
 * each round (see measure.ts); a target's two tasks are then measured again alone, in a
 * child process (see isolate.ts), and judged on the median over the rounds of their ratio
 * within each round. Returns the medians in ns by task name.
 */
export async function compare(
  title: string,
  tasks: Task[],
  options: SuiteOptions & { targets?: Target[]; pace?: Pace },
): Promise<Map<string, number>> {
  const section = sections++;
  if (isolation !== undefined) {
    // A child: measure the one section asked for, skip the others.
    if (isolation.suite !== suite || isolation.section !== section) return new Map();
    if (isolation.title !== title) throw new Error(`section ${section} of ${suite} is now ${title}`);
    const wanted = tasks.filter(([name]) => isolation?.tasks.includes(name));
    return answer(await measure(wanted, { quick: false, rounds: isolation.rounds, pace: options.pace }));
  }
  const perRound = await measure(tasks, options);
  const medians = new Map([...perRound].map(([name, rounds]) => [name, spread(rounds).median]));
  const base = medians.get(tasks[0]?.[0] ?? '') ?? Number.NaN;
  console.log(`\n## ${title}${options.quick ? ' (quick mode: figures not meaningful)' : ''}`);
  console.table(
    tasks.map(([task]) => {
      const s = spread(perRound.get(task)!);
      return {
        task,
        'median / call': fmt(s.median),
        ...(options.quick ? {} : { 'IQR over rounds': `${fmt(s.q1)} – ${fmt(s.q3)}` }),
        [`× ${tasks[0]?.[0]}`]: (s.median / base).toFixed(2),
      };
    }),
  );
  for (const t of options.targets ?? []) {
    if (!perRound.has(t.ours) || !perRound.has(t.peer))
      throw new Error(`unknown task in target: ${t.ours} / ${t.peer}`);
    const beside = ratios(perRound, t).median;
    const solo = options.quick
      ? perRound
      : await measureAlone({ suite, section, title, tasks: [t.ours, t.peer] }, options);
    const r = ratios(solo, t);
    const ns = Object.fromEntries([t.ours, t.peer].map((task) => [task, spread(solo.get(task)!).median]));
    checkTarget(`${t.ours} / ${t.peer}`, r.median, t.maxRatio, options, { section: title, spread: r, beside, ns });
  }
  return medians;
}

/**
 * A target's tasks measured alone in `options.forks` child processes, one after another,
 * the rounds shared between them and pooled. A child's JIT can take an odd path for good
 * (one put ours open-breaker rejection at 7.2 µs where others read 2.6 to 3.2): pooled with
 * the others, it moves the median little.
 */
async function measureAlone(
  request: Omit<Isolation, 'rounds'>,
  options: SuiteOptions & { pace?: Pace },
): Promise<Map<string, number[]>> {
  const forks = options.forks ?? DEFAULT_FORKS;
  const rounds = Math.ceil(roundsOf(options) / forks);
  const pooled = new Map<string, number[]>(request.tasks.map((task) => [task, []]));
  for (let fork = 0; fork < forks; fork++) {
    for (const [task, figures] of await isolated({ ...request, rounds })) pooled.get(task)!.push(...figures);
  }
  return pooled;
}

/** The spread over the rounds of `ours / peer`, each round's ratio taken within the round. */
function ratios(perRound: Map<string, number[]>, t: Target): Spread {
  const peer = perRound.get(t.peer)!;
  return spread(perRound.get(t.ours)!.map((ours, round) => ours / peer[round]!));
}

/**
 * Prints one `ours / peer` ratio of two medians against its target (no spread: prefer a
 * `compare` target, which has one).
 */
export function printTarget(
  ours: string,
  peer: string,
  a: number | undefined,
  b: number | undefined,
  maxRatio: number,
  options: SuiteOptions,
) {
  if (a === undefined || b === undefined) throw new Error(`unknown task in target: ${ours} / ${peer}`);
  checkTarget(`${ours} / ${peer}`, a / b, maxRatio, options);
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

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// A target's two tasks measured alone, in a child process that runs the suite up to the
// target's section and measures nothing else. Beside a section's other tasks, the code two
// tasks share with them (a library's `execute`, its backoff or event plumbing) has seen
// every other task: its call sites turn polymorphic, V8 optimises it for the mix, and the
// figures then hang on how many tasks of each library the section holds and on which
// optimisation a loaded machine happened to get (one run put cockatiel's retry at 276 ns,
// the next at 360 ns). Alone, each task's code is optimised for that task only, and the
// figures repeat from run to run.

/** What a child is asked to measure: one section's named tasks. */
export interface Isolation {
  suite: string;
  /** The section's ordinal among the suite's `compare` calls. */
  section: number;
  title: string;
  tasks: string[];
  rounds: number | undefined;
}

const ENV = 'BENCH_ISOLATE';

/** In a child, what it is to measure; `undefined` in the parent run. */
export const isolation: Isolation | undefined =
  process.env[ENV] === undefined ? undefined : (JSON.parse(process.env[ENV]) as Isolation);

/** In a child: hands the figures to the parent and ends the process (the rest of the suite need not run). */
export function answer(rounds: Map<string, number[]>): Promise<never> {
  return new Promise(() => process.send!(Object.fromEntries(rounds), () => process.exit(0)));
}

/** Runs `request` in a child process; its tasks' ns per call in each round. */
export function isolated(request: Isolation): Promise<Map<string, number[]>> {
  const run = fileURLToPath(new URL('./run.ts', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, run], {
    env: { ...process.env, [ENV]: JSON.stringify(request) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(new Map(Object.entries(m as Record<string, number[]>))));
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`the child measuring ${request.tasks.join(' / ')} exited (${code}) without figures`)),
    );
  });
}

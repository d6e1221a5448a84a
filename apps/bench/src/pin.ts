import { spawnSync } from 'node:child_process';

/**
 * CPU pinning for the benchmarks that put a load generator and a server on one machine: the
 * load generator (this process) on one CPU, each server on another, so that the two never
 * take turns on one core or move between cores mid-run (see README.md, "Servers under load").
 * Needs Linux's `taskset` and two CPUs in this process's affinity list; without them every
 * call does nothing and `note` says the run is unpinned (`BENCH_PIN=0` asks for that too).
 * Not for the clients suite: there each request waits for the other side's answer before the
 * next, and the wake-up across CPUs made a loopback request ~60 % slower here (axios: 614 µs
 * pinned against 392 µs unpinned), with no less spread.
 */
export interface Pinning {
  /** What the run's header line says about pinning. */
  readonly note: string;
  /** Pins a server's process (all its threads) to the server's CPU. */
  server(pid: number): void;
  /** Gives this process back the CPUs it had. */
  restore(): void;
}

const taskset = (args: string[]) => spawnSync('taskset', args, { encoding: 'utf8' });

/** `0-3,6` → [0, 1, 2, 3, 6]. */
function cpuList(text: string): number[] {
  return text.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number);
    return Array.from({ length: to! - from! + 1 }, (_, i) => from! + i);
  });
}

const pin = (cpu: string, pid: number) => {
  const r = taskset(['-a', '-c', '-p', cpu, String(pid)]);
  if (r.status !== 0) throw new Error(`taskset could not pin ${pid} to CPU ${cpu}: ${r.stderr.trim()}`);
};

export function pinCpus(): Pinning {
  const unpinned = (why: string): Pinning => ({ note: `unpinned (${why})`, server() {}, restore() {} });
  if (process.env.BENCH_PIN === '0') return unpinned('BENCH_PIN=0');
  if (process.platform !== 'linux') return unpinned('not Linux');
  const own = taskset(['-c', '-p', String(process.pid)]);
  if (own.error !== undefined || own.status !== 0) return unpinned('no taskset');
  const list = (own.stdout.split(':').pop() ?? '').trim();
  const cpus = cpuList(list);
  if (cpus.length < 2) return unpinned(`one CPU: ${list}`);
  const client = String(cpus[0]);
  const server = String(cpus[cpus.length - 1]);
  pin(client, process.pid);
  return {
    note: `load generator on CPU ${client}, servers on CPU ${server}`,
    server: (pid) => pin(server, pid),
    restore: () => pin(list, process.pid),
  };
}

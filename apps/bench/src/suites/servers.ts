import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { checkTarget, type SuiteOptions } from '../harness.js';
import { shuffler, spread } from '../measure.js';
import { type Pinning, pinCpus } from '../pin.js';
import { type Framework, PEERS, VARIANTS } from '../servers/variants.js';

// Server middleware under load: autocannon on loopback against each variant of an app in
// its own child process (servers/app.ts), 50 connections, GET / answered with small JSON.
// This machine's speed drifts by 10-30 % over seconds (other work on the host), and one
// process can run 10-20 % faster or slower than an identical one for as long as it lives. So
// each run starts every variant afresh, in its own child process, warms each (3 s), then measures
// them in short slices taken in turn (a fresh shuffled order each time): every variant
// samples the same stretch of the machine's time, and no variant rides one lucky process
// through all runs. A run's figure of a variant is its slices together (requests ÷ time, CPU
// ÷ requests); its share of the bare framework is the median over the runs of its
// requests/s ÷ bare's in that run.
// Targets: Express, ours ≥ 0.97 of bare and ahead of every peer; Koa, ours ahead of every
// peer; the full stack ≥ 0.90 of bare on both. The server's CPU time per request is shown
// beside (bare's ÷ the variant's: the requests/s share at equal CPU), steadier than
// requests/s when other work shares the machine. A no-op middleware (one that only passes the
// request on) is measured beside, not judged: the floor no middleware of that framework goes
// below; and as many no-op middlewares as the full stack mounts (4 on Express, where the error
// handler comes after the route; 5 on Koa), the full stack's floor. `bare again`, bare in a
// second process, shows how far two identical servers differ in the same run. 'RateLimit
// fields only' is a middleware that sets the two fields ours sends on every response
// (RateLimit-Policy and RateLimit, the same bytes) and does nothing else: what the fields alone
// cost, in the server and in the load generator that parses them; the peers' middlewares as
// their docs write them send none (express-rate-limit and koa-ratelimit send theirs). The load
// generator runs on one CPU and every server on another (see pin.ts); its CPU share is shown:
// near 100 %, it is the bound.

const CONNECTIONS = 50;
/** Runs, each with fresh processes; `--rounds <n>` sets it (more runs, a median less moved by one process's luck). */
const RUNS = 5;
/** Slices of each variant per run, and their length. */
const SLICES = 3;
const SLICE_S = 1;
/**
 * A fresh server's warm-up before its slices: the full stack on Koa served 1.5-10 k requests/s
 * over its first 1-2.5 s here, then 18-20 k from there on (bare reaches its pace within 1 s), so
 * a 1 s warm-up measured its JIT warm-up more than its steady pace.
 */
const WARM_S = 3;
const QUICK_S = 0.5;

interface Figures {
  rps: number;
  p99: number;
  /** The server's CPU time per request, µs. */
  cpuUs: number;
  /** The load generator's (this process's) CPU time ÷ wall time: near 1, it bounds requests/s. */
  loadBusy: number;
}

/** One load's raw counts, added up over a run's slices. */
interface Slice {
  requests: number;
  seconds: number;
  cpuUs: number;
  /** This process's CPU time over the slice, µs. */
  loadUs: number;
  p99: number;
}

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
}

async function start(framework: Framework, variant: string, pinning: Pinning): Promise<Server> {
  const child = fork(fileURLToPath(new URL('../servers/app.ts', import.meta.url)), [framework, variant], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  if (child.pid !== undefined) pinning.server(child.pid);
  const [message] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the ${framework} ${variant} server exited (${code}) before listening`);
    }),
  ])) as [{ port: number }];
  return { url: `http://127.0.0.1:${message.port}/`, child };
}

/** The server's CPU time so far, µs (user + system). */
async function cpu(server: Server): Promise<number> {
  const answer = once(server.child, 'message');
  server.child.send('cpu');
  const [{ user, system }] = (await answer) as [NodeJS.CpuUsage];
  return user + system;
}

async function load(server: Server, seconds: number): Promise<Slice> {
  const before = await cpu(server);
  const own = process.cpuUsage();
  const result = await autocannon({ url: server.url, connections: CONNECTIONS, duration: seconds });
  const { user, system } = process.cpuUsage(own);
  const cpuUs = (await cpu(server)) - before;
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(
      `${server.url}: ${result.errors} errors, ${result.non2xx} non-2xx answers (nothing may be limited)`,
    );
  }
  return {
    requests: result.requests.total,
    seconds: result.duration,
    cpuUs,
    loadUs: user + system,
    p99: result.latency.p99,
  };
}

/** A run's figures of one variant, from its slices. */
function figuresOf(slices: readonly Slice[]): Figures {
  const requests = slices.reduce((n, s) => n + s.requests, 0);
  const seconds = slices.reduce((n, s) => n + s.seconds, 0);
  const cpuUs = slices.reduce((n, s) => n + s.cpuUs, 0);
  const loadUs = slices.reduce((n, s) => n + s.loadUs, 0);
  return {
    rps: requests / seconds,
    p99: median(slices.map((s) => s.p99)),
    cpuUs: cpuUs / requests,
    loadBusy: loadUs / (seconds * 1e6),
  };
}

const median = (values: readonly number[]) => spread(values).median;

async function section(framework: Framework, options: SuiteOptions, pinning: Pinning): Promise<void> {
  const variants = VARIANTS[framework];
  const servers = new Map<string, Server>();
  try {
    const shuffle = shuffler();
    const runs: Array<Map<string, Figures>> = [];
    for (let run = 0; run < (options.quick ? 1 : (options.rounds ?? RUNS)); run++) {
      for (const variant of variants) servers.set(variant, await start(framework, variant, pinning));
      for (const variant of shuffle(variants)) await load(servers.get(variant)!, options.quick ? QUICK_S : WARM_S);
      const slices = new Map<string, Slice[]>(variants.map((v) => [v, []]));
      for (let slice = 0; slice < (options.quick ? 1 : SLICES); slice++) {
        for (const variant of shuffle(variants)) {
          slices.get(variant)!.push(await load(servers.get(variant)!, options.quick ? QUICK_S : SLICE_S));
        }
      }
      for (const server of servers.values()) server.child.kill();
      servers.clear();
      runs.push(new Map(variants.map((v) => [v, figuresOf(slices.get(v)!)])));
    }
    const share = (variant: string, of: string, pick: (f: Figures) => number) =>
      median(runs.map((r) => pick(r.get(variant)!) / pick(r.get(of)!)));
    console.log(
      `\n## ${framework}: ${CONNECTIONS} connections, ${runs.length} runs × ${options.quick ? 1 : SLICES} slices of ${options.quick ? QUICK_S : SLICE_S} s per variant, taken in turn, ${pinning.note}${options.quick ? ' (quick mode: figures not meaningful)' : ''}`,
    );
    console.table(
      variants.map((variant) => ({
        variant,
        'requests/s': Math.round(median(runs.map((r) => r.get(variant)!.rps))),
        'p99 ms': median(runs.map((r) => r.get(variant)!.p99)),
        'requests/s × bare': share(variant, 'bare', (f) => f.rps).toFixed(3),
        'p99 × bare': share(variant, 'bare', (f) => f.p99).toFixed(2),
        'CPU µs/req': median(runs.map((r) => r.get(variant)!.cpuUs)).toFixed(1),
        'bare CPU ÷ this': share('bare', variant, (f) => f.cpuUs).toFixed(3),
        'load gen CPU': `${Math.round(100 * median(runs.map((r) => r.get(variant)!.loadBusy)))} %`,
      })),
    );
    const again = share('bare again', 'bare', (f) => f.rps);
    console.log(
      `resolution: bare again ÷ bare = ${again.toFixed(3)} (the same server in two processes: one run's reading of the noise, which paired runs put at ±5-15 % on this machine)`,
    );
    const loadBusy = median(runs.map((r) => r.get('bare')!.loadBusy));
    if (loadBusy >= 0.9) {
      console.log(
        `load generator: busy ${Math.round(100 * loadBusy)} % of the time against bare, so requests/s is bounded by autocannon (it parses every response in JS) as much as by the server; the bytes a middleware adds to each response, such as the draft's two RateLimit fields, slow it too ('RateLimit fields only' shows by how much)`,
      );
    }
    const judged = (label: string, value: number, limit: number) =>
      checkTarget(label, value, limit, options, { section: framework, atLeast: true });
    if (framework === 'express')
      judged(
        'ours requests/s ÷ bare',
        share('ours', 'bare', (f) => f.rps),
        0.97,
      );
    for (const peer of PEERS[framework]) {
      judged(
        `ours requests/s ÷ ${peer}`,
        share('ours', peer, (f) => f.rps),
        1,
      );
    }
    judged(
      'full stack requests/s ÷ bare',
      share('full stack', 'bare', (f) => f.rps),
      0.9,
    );
  } finally {
    for (const server of servers.values()) server.child.kill();
  }
}

export default async function servers(options: SuiteOptions) {
  const pinning = pinCpus();
  try {
    await section('express', options, pinning);
    await section('koa', options, pinning);
  } finally {
    pinning.restore();
  }
}

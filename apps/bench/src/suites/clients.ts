import { type ChildProcess, spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { withResilience as resilientAxios } from '@resilience/axios';
import { type ClientOptions, consecutive } from '@resilience/core';
import { withResilience as resilientFetch } from '@resilience/fetch';
import axios from 'axios';
import axiosRetry, { exponentialDelay } from 'axios-retry';
import { judge, type SuiteOptions } from '../harness.js';

// Issue 12: requests per second on the success path of the HTTP client adapters, against a
// loopback server in a child process (so it does not share the client's event loop) that
// answers a tiny fixed JSON body. Same run: a bare axios instance, ours, axios-retry; a bare
// fetch, ours. Each task keeps CONCURRENCY requests in flight for a bounded window; the tasks
// take turns, several rounds, and each ratio is the median of its rounds' ratios (a pair
// measured back to back), so a load change on a shared machine hits both sides alike.
// Keep-alive alike on both sides: each axios instance has its own keep-alive agent with
// the same settings; both fetches use the global (keep-alive) dispatcher.

const CONCURRENCY = 16;

/** Ours: retry, a breaker per host and a per-attempt timeout, as the target names them. */
const OURS = {
  retry: { maxAttempts: 3 },
  breaker: { strategy: consecutive(5), halfOpenAfter: 10_000 },
  timeout: 10_000,
} satisfies ClientOptions;

// The server: node:http on 127.0.0.1, port 0; prints its port; exits when its stdin closes.
const SERVER = `
const http = require('node:http');
const body = Buffer.from('{"ok":true,"n":1}');
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 120000;
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

async function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited (${code}) before listening`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  child.removeAllListeners('exit');
  return { url: `http://127.0.0.1:${port}`, child };
}

const keepAlive = () => new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

type Task = { name: string; run: () => Promise<unknown> };

const BARE_AXIOS = 'axios bare';
const OURS_AXIOS = 'axios ours (retry, breaker, timeout)';
const PEER_AXIOS = 'axios axios-retry';
const BARE_FETCH = 'fetch bare';
const OURS_FETCH = 'fetch ours (retry, breaker, timeout)';

function tasks(url: string): Task[] {
  const instance = () => axios.create({ baseURL: url, httpAgent: keepAlive() });
  const bareAxios = instance();
  const oursAxios = resilientAxios(instance(), OURS);
  const peerAxios = instance();
  axiosRetry(peerAxios, { retries: 2, retryDelay: exponentialDelay }); // 3 attempts, as ours
  const timedAxios = instance();
  const oursFetch = resilientFetch(fetch, OURS);
  const target = `${url}/v1/items`;
  return [
    { name: BARE_AXIOS, run: () => bareAxios.get('/v1/items') },
    { name: OURS_AXIOS, run: () => oursAxios.get('/v1/items') },
    { name: PEER_AXIOS, run: () => peerAxios.get('/v1/items') },
    // For reference: what a per-request timeout's signal costs by hand, without our policies.
    {
      name: 'axios bare + AbortSignal.timeout',
      run: () => timedAxios.get('/v1/items', { signal: AbortSignal.timeout(OURS.timeout) }),
    },
    { name: BARE_FETCH, run: () => fetch(target).then((r) => r.json()) },
    { name: OURS_FETCH, run: () => oursFetch(target).then((r) => r.json()) },
    {
      name: 'fetch bare + AbortSignal.timeout',
      run: () => fetch(target, { signal: AbortSignal.timeout(OURS.timeout) }).then((r) => r.json()),
    },
  ];
}

/** The comparisons: [ours, peer, the least ours / peer throughput that meets the target]. */
const TARGETS: [ours: string, peer: string, min: number][] = [
  [OURS_AXIOS, BARE_AXIOS, 0.95],
  [OURS_AXIOS, PEER_AXIOS, 1],
  [OURS_FETCH, BARE_FETCH, 0.95],
];

interface Sample {
  /** Requests completed per wall-clock second within the window. */
  rps: number;
  /** The client process's CPU time (user + system) per request within the window, µs. */
  cpu: number;
  /** Median latency of the window's requests, µs. */
  p50: number;
}

/**
 * Keeps `CONCURRENCY` calls of `run` in flight for `warmupMs + windowMs`; counts the calls
 * that complete within the window (after the warm-up) and the process's CPU time between
 * the window's first and last completions, then lets the calls in flight drain.
 */
async function measure(run: () => Promise<unknown>, warmupMs: number, windowMs: number): Promise<Sample> {
  const start = performance.now();
  const from = start + warmupMs;
  const to = from + windowMs;
  const latencies: number[] = [];
  let first: NodeJS.CpuUsage | undefined;
  let last: NodeJS.CpuUsage | undefined;
  const worker = async () => {
    for (let now = performance.now(); now < to; ) {
      await run();
      const end = performance.now();
      if (end >= from && end < to) {
        if (first === undefined) first = process.cpuUsage();
        else last = process.cpuUsage();
        latencies.push(end - now);
      }
      now = end;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / (windowMs / 1000),
    cpu: (cpuTime(last) - cpuTime(first)) / (latencies.length - 1), // from the window's first completion
    p50: (latencies[latencies.length >> 1] ?? Number.NaN) * 1000,
  };
}

const cpuTime = (usage: NodeJS.CpuUsage | undefined) => (usage === undefined ? Number.NaN : usage.user + usage.system);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : ((s[m - 1] ?? Number.NaN) + (s[m] ?? Number.NaN)) / 2;
};
/** Max − min over the median, in %: how far the rounds disagree. */
const spread = (xs: number[]) => ((Math.max(...xs) - Math.min(...xs)) / median(xs)) * 100;
const collect = () => (globalThis as { gc?: () => void }).gc?.();

export default async function clients(options: SuiteOptions): Promise<void> {
  const rounds = options.quick ? 1 : 7;
  const warmupMs = options.quick ? 0 : 300;
  const windowMs = options.quick ? 200 : 1_000;
  const { url, child } = await startServer();
  try {
    const list = tasks(url);
    for (const task of list) await task.run(); // connect and build each host's policies once
    const samples = new Map<string, Sample[]>(list.map((t) => [t.name, []]));
    for (let round = 0; round < rounds; round++) {
      // Interleaved, starting one task later each round, so no task always follows the same one.
      for (let i = 0; i < list.length; i++) {
        const task = list[(round + i) % list.length]!;
        collect();
        samples.get(task.name)!.push(await measure(task.run, warmupMs, windowMs));
      }
    }
    report(samples, rounds, windowMs, options);
  } finally {
    child.stdin!.end();
    child.kill();
  }
}

function report(samples: Map<string, Sample[]>, rounds: number, windowMs: number, options: SuiteOptions): void {
  const quick = options.quick ? ' (quick mode: figures not meaningful)' : '';
  console.log(
    `\n## HTTP clients: success path, ${CONCURRENCY} in flight, ${rounds} interleaved rounds of ${windowMs} ms${quick}`,
  );
  const of = (name: string, field: keyof Sample) => samples.get(name)!.map((s) => s[field]);
  const bare = (name: string) => (name.startsWith('axios') ? BARE_AXIOS : BARE_FETCH);
  console.table(
    [...samples.keys()].map((task) => ({
      task,
      'req/s': median(of(task, 'rps')).toFixed(0),
      'req/s spread': `${spread(of(task, 'rps')).toFixed(0)} %`,
      'CPU µs / req': median(of(task, 'cpu')).toFixed(1),
      'CPU spread': `${spread(of(task, 'cpu')).toFixed(0)} %`,
      '+µs over bare': (median(of(task, 'cpu')) - median(of(bare(task), 'cpu'))).toFixed(1),
      'p50 latency': `${(median(of(task, 'p50')) / 1000).toFixed(2)} ms`,
    })),
  );
  console.log(
    'CPU µs / req: the client process’s CPU time per request (its throughput per core when it is the bottleneck);\n' +
      '+µs over bare: what a request costs more than the bare client’s. Spread: (max − min) / median over the rounds.\n' +
      'Targets are judged on requests per CPU-second (bare CPU / ours CPU), which a busy shared machine disturbs far\n' +
      'less than wall-clock req/s (shown after it); each is the median of the rounds’ ratios, a pair measured back to back.',
  );
  for (const [ours, peer, min] of TARGETS) {
    const paired = (field: 'rps' | 'cpu') => {
      const a = of(ours, field);
      const b = of(peer, field);
      return a.map((x, i) => (field === 'rps' ? x / b[i]! : b[i]! / x));
    };
    const cpu = paired('cpu');
    const ratio = median(cpu);
    const range = `rounds ${Math.min(...cpu).toFixed(3)}–${Math.max(...cpu).toFixed(3)}`;
    console.log(
      `target  ${ours} / ${peer} req per CPU-s = ${ratio.toFixed(3)} (≥ ${min}) ${judge(ratio >= min, options)}` +
        `  [${range}; wall-clock req/s ratio ${median(paired('rps')).toFixed(3)}]`,
    );
  }
}

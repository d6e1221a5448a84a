import { type ChildProcess, spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { withResilience as resilientAxios } from '@resilience/axios';
import { type ClientOptions, consecutive } from '@resilience/core';
import { withResilience as resilientFetch } from '@resilience/fetch';
import axios from 'axios';
import axiosRetry, { exponentialDelay } from 'axios-retry';
import { compare, type SuiteOptions, type Target, type Task } from '../harness.js';

// Issue 12: the success path of the HTTP client adapters, requests one after another against
// a loopback server that answers a tiny fixed JSON body at once. The server runs in a child
// process, so its work is not on the client's event loop and the figures are the client's.
// Same run: a bare axios instance, ours, axios-retry; a bare fetch, ours. Each client keeps
// its connection alive (axios: an agent of its own, the same settings for each instance;
// fetch: the global keep-alive dispatcher), and every body is read.
//
// Paced as requests (measure.ts): each round, every client sends ~20 ms of requests, one
// after another and mixed with the others' in a shuffled order, so a figure is the time per
// request (the inverse of requests/s) under steady use, garbage collection included.
//
// fetch with a per-attempt timeout is judged against a bare fetch with a timeout of its own
// (`AbortSignal.timeout`): undici follows any signal it is given with an AbortController, a
// listener and a finalizer of its own, which cost a bare fetch 3-13 % of a loopback request
// here (AbortSignal.timeout: 1.03-1.11 × bare over five runs), as much as the 5 % the target
// allows us in all. Ours without a timeout (its defaults:
// retries and the retry budget) is judged against the bare fetch. axios' own adapters take
// our cancel token instead of a signal, so axios is judged with the timeout against bare.

/** Ours: retry, a breaker per host and a per-attempt timeout, as the target names them. */
const OURS = {
  retry: { maxAttempts: 3 },
  breaker: { strategy: consecutive(5), halfOpenAfter: 10_000 },
  timeout: 10_000,
} satisfies ClientOptions;
/** For reference: the same without the timeout, whose attempt signal (an `AbortController` each) is most of ours' cost. */
const { timeout: _, ...UNTIMED } = OURS;

// The server: node:http on 127.0.0.1, port 0; prints its port; exits when its stdin closes
// (the suite's process ends, or a child measuring a target alone exits).
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

const BARE_AXIOS = 'axios bare';
const OURS_AXIOS = 'axios ours (retry, breaker, timeout)';
const PEER_AXIOS = 'axios + axios-retry';
const BARE_FETCH = 'fetch bare';
const OURS_FETCH = 'fetch ours (retry, breaker, timeout)';
const TIMED_FETCH = 'fetch bare + AbortSignal.timeout';
const DEFAULT_FETCH = 'fetch ours (defaults: retry, budget)';

function axiosTasks(url: string): Task[] {
  const instance = () => axios.create({ baseURL: url, httpAgent: new Agent({ keepAlive: true }) });
  const bare = instance();
  const ours = resilientAxios(instance(), OURS);
  const peer = instance();
  axiosRetry(peer, { retries: 2, retryDelay: exponentialDelay }); // 3 attempts, as ours
  const timed = instance();
  const untimed = resilientAxios(instance(), UNTIMED);
  return [
    [BARE_AXIOS, () => bare.get('/v1/items')],
    [OURS_AXIOS, () => ours.get('/v1/items')],
    [PEER_AXIOS, () => peer.get('/v1/items')],
    // For reference: a per-request timeout by hand, without our policies; ours without a timeout.
    ['axios bare + AbortSignal.timeout', () => timed.get('/v1/items', { signal: AbortSignal.timeout(OURS.timeout) })],
    ['axios ours (retry, breaker)', () => untimed.get('/v1/items')],
  ];
}

function fetchTasks(url: string): Task[] {
  const ours = resilientFetch(fetch, OURS);
  const defaults = resilientFetch(fetch);
  const untimed = resilientFetch(fetch, UNTIMED);
  const target = `${url}/v1/items`;
  return [
    [BARE_FETCH, () => fetch(target).then((r) => r.json())],
    [OURS_FETCH, () => ours(target).then((r) => r.json())],
    [TIMED_FETCH, () => fetch(target, { signal: AbortSignal.timeout(OURS.timeout) }).then((r) => r.json())],
    [DEFAULT_FETCH, () => defaults(target).then((r) => r.json())],
    ['fetch ours (retry, breaker)', () => untimed(target).then((r) => r.json())],
  ];
}

/** ≤ 5 % overhead over the bare client (time per request ≤ 1.05 × bare's), and cheaper than axios-retry. */
const axiosTargets: Target[] = [
  { ours: OURS_AXIOS, peer: BARE_AXIOS, maxRatio: 1.05 },
  { ours: OURS_AXIOS, peer: PEER_AXIOS, maxRatio: 1 },
];
/** Each against the bare fetch doing the same (see above): with a timeout, and without. */
const fetchTargets: Target[] = [
  { ours: OURS_FETCH, peer: TIMED_FETCH, maxRatio: 1.05 },
  { ours: DEFAULT_FETCH, peer: BARE_FETCH, maxRatio: 1.05 },
];

export default async function clients(options: SuiteOptions): Promise<void> {
  const { url, child } = await startServer();
  try {
    await compare('clients: axios GET on the success path (loopback, keep-alive)', axiosTasks(url), {
      ...options,
      pace: 'requests',
      targets: axiosTargets,
    });
    await compare('clients: fetch GET on the success path (loopback, keep-alive)', fetchTasks(url), {
      ...options,
      pace: 'requests',
      targets: fetchTargets,
    });
  } finally {
    child.stdin!.end();
  }
}

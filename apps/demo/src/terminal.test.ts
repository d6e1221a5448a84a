import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Sample } from './load.js';
import type { RunningDemo } from './run.js';
import type { Phase } from './schedule.js';
import type { Figures, Summary } from './summary.js';
import { liveFrame, progress, summaryTables } from './terminal.js';

const wide: Figures = { requests: 12_345, successRate: 0.9876, p50: 12_345, p95: 23_456, p99: 34_567 };
const byApi = { express: wide, koa: wide, trpc: wide };
const phase = (name: Summary['phases'][number]['name'], startS: number, endS: number) => ({
  ...wide,
  name,
  startS,
  endS,
  byApi,
});

/** A long run's summary: five-digit counts and latencies, every fact and target at its widest. */
const summary: Summary = {
  seed: 123_456_789,
  durationS: 3_600,
  wallS: 3_612.3,
  phases: [
    phase('healthy', 0, 540),
    phase('transient', 540, 1_410),
    phase('throttling', 1_410, 2_226.6),
    phase('outage', 2_226.6, 2_982),
    phase('recovery', 2_982, 3_600),
  ],
  apis: [
    { ...wide, name: 'express' },
    { ...wide, name: 'koa' },
    { ...wide, name: 'trpc' },
  ],
  recovery: { met: 12_345, recovered: 12_340, rate: 0.9996, failures: { error_503: 3, timeout: 2 } },
  breakers: { opens: 1_234, recoveries: 123, openAtEnd: [] },
  rateLimited: { noisy: 12_345, noisySent: 45_678, wellBehaved: 0 },
  replays: { sent: 1_234, matched: 1_234 },
  alerts: {
    fired: 123,
    firedInOutage: 45,
    resolved: 123,
    active: 0,
    names: ['high_timeout_rate', 'high_error_rate', 'critical_error_rate', 'breaker_opened'],
  },
  sagas: { completed: 12_345, compensated: 1_234, compensationFailed: 12, declined: 123, declinedCompensated: 123 },
  provider: { calls: 123_456, injected: 23_456, retries: 23_450 },
  sharedLimit: {
    instances: 2,
    byApi: {
      express: { admitted: 12_345, limit: 12_345 },
      koa: { admitted: 12_345, limit: 12_345 },
      trpc: { admitted: 12_345, limit: 12_345 },
    },
  },
  skipped: 0,
  targets: [
    { name: 'recovery rate on transient faults ≥ 99.00 %', value: '12340 of 12345 (99.96 %)', ok: true },
    {
      name: "the noisy client's quota held across the 2 instances of each API",
      value: 'express 12345 ≤ 12345, koa 12345 ≤ 12345, trpc 12345 ≤ 12345',
      ok: true,
    },
    {
      name: 'repeated orders were answered from the idempotency record',
      value: '2 of 2 (100.00 %), too few to judge: 5 needed',
      ok: false,
    },
  ],
  ok: false,
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what is stripped
const visible = (line: string) => line.replace(/\u001b\[[0-9;]*m/g, '');

describe('summaryTables', () => {
  it('fits an 80-column terminal, the usual default, so no line of a table wraps', () => {
    const lines = summaryTables(summary).split('\n');
    const tooWide = lines.filter((line) => [...visible(line)].length > 80);
    expect(tooWide).toEqual([]);
  });

  it('still shows every phase, every API and each target with its verdict', () => {
    const text = visible(summaryTables(summary));
    for (const name of ['healthy', 'transient', 'throttling', 'outage', 'recovery', 'express', 'koa', 'trpc']) {
      expect(text).toContain(name);
    }
    expect(text).toContain('98.76 % of 12345');
    expect(text).toContain('34567');
    expect(text.match(/│ ok +│/g)).toHaveLength(2);
    expect(text.match(/│ MISSED +│/g)).toHaveLength(1);
  });

  it('says which phase a request counts in, so failures in the throttling and recovery phases add up', () => {
    // Without it the throttling phase's 90 % (requests that waited out a Retry-After into the
    // outage) read as 429s the retries did not ride out.
    const text = visible(summaryTables(summary)).replace(/\s+/g, ' ');
    expect(text).toContain('A request counts in the phase it started in');
    expect(text).toContain('Retry-After into the outage');
    expect(text).toContain('45 fired in the outage');
  });
});

describe('liveFrame', () => {
  it("keeps every line within 80 columns at a long run's widest figures, in every phase", () => {
    const worst = {
      requests: 1_234_567,
      recent: { successRate: 0.999, p95: 23_456 },
      inFlight: 1_234,
      injected: 123_456,
      retries: 123_456,
      notClosed: ['express', 'koa', 'trpc'],
      limited: 123_456,
    };
    for (const phase of ['healthy', 'transient', 'throttling', 'outage', 'recovery'] as const) {
      const lines = liveFrame(3_599_600, 3_600_000, phase, worst).split('\n').map(visible);
      expect(lines.filter((line) => [...line].length > 80)).toEqual([]);
      expect(lines.join('\n')).toContain(phase);
      expect(lines.join('\n')).toContain('breakers not closed express koa trpc');
      expect(lines.join('\n')).toContain('turned away by the rate limits (429) 123456');
    }
  });
});

describe('progress, when the output is not a terminal', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A run of two phases, the outage from 5 s, that the test moves along by hand. */
  function run() {
    const phase = (name: Phase['name'], startMs: number, endMs: number) =>
      ({ name, startMs, endMs, faultRate: 0, faults: {}, retryAfterS: 1 }) as Phase;
    const closed = { opens: 0, opensInOutage: 0, recoveries: 0, state: 'closed' };
    return {
      settings: { durationMs: 10_000 },
      phases: [phase('healthy', 0, 5_000), phase('outage', 5_000, 10_000)],
      load: { elapsedMs: 0, samples: [] as Partial<Sample>[], inFlight: 0 },
      provider: { injectedIn: {} as Record<string, number> },
      kits: { express: [], koa: [], trpc: [] },
      breakers: { express: { ...closed }, koa: { ...closed }, trpc: { ...closed } },
    };
  }

  /** A well-behaved client's request, answered after `latencyMs`. */
  const sample = (phase: Phase['name'], startMs: number, latencyMs: number, outcome: Sample['outcome']) => ({
    noisy: false,
    phase,
    startMs,
    latencyMs,
    outcome,
  });

  it('prints the figures under the phase they come from, not beside the next one', () => {
    vi.useFakeTimers();
    const demo = run();
    const lines: string[] = [];
    const stop = progress(demo as unknown as RunningDemo, false, (line) => lines.push(line));
    vi.advanceTimersByTime(250);
    demo.load.elapsedMs = 5_000;
    vi.advanceTimersByTime(4_750);
    // The outage opens a breaker while it runs: its figures say so, under its name.
    demo.breakers.express.state = 'open';
    demo.load.elapsedMs = 10_000;
    stop();
    expect(lines).toEqual([
      '[0.0 s] phase healthy (every answer fine)',
      expect.stringMatching(/^\[5\.0 s\] healthy phase over: requests 0, .*breakers not closed -,/),
      '[5.0 s] phase outage (every answer a 503)',
      expect.stringMatching(/^\[10\.0 s\] outage phase over, load over: requests 0, .*breakers not closed express,/),
    ]);
  });

  it("judges a phase's line at its end, even written late: none of the next phase's requests or faults", () => {
    vi.useFakeTimers();
    const demo = run();
    const lines: string[] = [];
    const stop = progress(demo as unknown as RunningDemo, false, (line) => lines.push(line));
    vi.advanceTimersByTime(0);
    // The healthy phase: 4 requests, all fine, one of them answered only in the outage.
    demo.load.samples.push(
      sample('healthy', 1_000, 100, 'ok'),
      sample('healthy', 3_500, 100, 'ok'),
      sample('healthy', 4_500, 100, 'ok'),
      sample('healthy', 4_900, 400, 'ok'),
    );
    // The outage, under way when the line is written (a busy event loop woke the timer 600 ms
    // late): its failures, its faults and a 429 must not be counted in the healthy phase.
    demo.load.samples.push(
      sample('outage', 5_000, 50, 'failed'),
      sample('outage', 5_100, 50, 'failed'),
      sample('outage', 5_200, 50, 'rate_limited'),
    );
    demo.provider.injectedIn = { outage: 7 };
    demo.load.elapsedMs = 5_600;
    vi.advanceTimersByTime(5_000);
    expect(lines).toEqual([
      '[0.0 s] phase healthy (every answer fine)',
      '[5.0 s] healthy phase over: requests 3, last 2 s 100.0 % ok, p95 100 ms, in flight 0, ' +
        'faults injected 0, retries 0, breakers not closed -, turned away by the rate limits (429) 0',
      '[5.0 s] phase outage (every answer a 503)',
    ]);
    demo.load.elapsedMs = 10_000;
    stop();
    expect(lines[3]).toMatch(
      /^\[10\.0 s\] outage phase over, load over: requests 7, last 2 s .*faults injected 7, .*\(429\) 1$/,
    );
  });

  it('says the run was stopped, and in which phase, when it did not reach its end', () => {
    vi.useFakeTimers();
    const demo = run();
    const lines: string[] = [];
    const stop = progress(demo as unknown as RunningDemo, false, (line) => lines.push(line));
    demo.load.elapsedMs = 2_000;
    stop(true);
    expect(lines).toEqual([
      '[0.0 s] phase healthy (every answer fine)',
      expect.stringMatching(/^\[2\.0 s\] stopped in the healthy phase: requests 0,/),
    ]);
  });
});

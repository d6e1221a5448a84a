import { describe, expect, it } from 'vitest';
import type { Sample } from './load.js';
import { schedule } from './schedule.js';
import { admittedOf, percentile, type RunFacts, recoveryOf, summarize } from './summary.js';
import { API_NAMES } from './targets.js';

const phases = schedule(42, 10_000);
const phase = (name: string) => phases.find((p) => p.name === name)!;

let next = 0;
function sample(over: Partial<Sample>): Sample {
  return {
    id: `req-${++next}`,
    api: 'express',
    kind: 'quote',
    noisy: false,
    phase: 'healthy',
    startMs: 100,
    latencyMs: 20,
    status: 200,
    outcome: 'ok',
    faults: [],
    ...over,
  };
}

const each = <V>(value: () => V) =>
  Object.fromEntries(API_NAMES.map((api) => [api, value()])) as Record<'express' | 'koa' | 'trpc', V>;

/** A run where every target holds; each test spoils one thing. */
function goodRun(): RunFacts & { samples: Sample[] } {
  const transient = phase('transient');
  const recovery = phase('recovery');
  const samples: Sample[] = [];
  for (const api of API_NAMES) {
    for (let i = 0; i < 10; i++) samples.push(sample({ api, phase: 'healthy' }));
    for (let i = 0; i < 10; i++)
      samples.push(sample({ api, phase: 'transient', startMs: transient.startMs + i, faults: ['error_503'] }));
    samples.push(sample({ api, phase: 'recovery', startMs: recovery.endMs - 100 }));
    samples.push(sample({ api, kind: 'replay', replayMatched: true }));
    samples.push(sample({ api, noisy: true, status: 429, outcome: 'rate_limited' }));
  }
  return {
    seed: 42,
    durationMs: 10_000,
    wallMs: 12_000,
    phases,
    samples,
    skipped: 0,
    breakers: each(() => ({
      opens: 1,
      opensInOutage: 1,
      recoveries: 1,
      state: 'closed',
      lastClosedMs: recovery.startMs + 500,
    })),
    alerts: each(() => ({ fired: 2, firedInOutage: 1, resolved: 2, active: 0, names: ['critical_error_rate'] })),
    sagas: each(() => ({ completed: 5, compensated: 1, compensationFailed: 0, declined: 1, declinedCompensated: 1 })),
    provider: { calls: 100, injected: 30, retries: 25 },
    instances: 1,
  };
}

describe('summary', () => {
  it('takes nearest-rank percentiles', () => {
    expect(percentile([], 50)).toBe(0);
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(
      percentile(
        [...Array(100).keys()].map((i) => i + 1),
        95,
      ),
    ).toBe(95);
    expect(
      percentile(
        [...Array(100).keys()].map((i) => i + 1),
        99,
      ),
    ).toBe(99);
  });

  it('holds every target on a good run', () => {
    const summary = summarize(goodRun());
    expect(summary.targets.filter((t) => !t.ok)).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(summary.recovery).toEqual({ met: 30, recovered: 30, rate: 1, failures: {} });
    expect(summary.rateLimited).toEqual({ noisy: 3, noisySent: 3, wellBehaved: 0 });
    expect(summary.replays).toEqual({ sent: 3, matched: 3 });
    expect(summary.phases.find((p) => p.name === 'transient')!.byApi.koa.requests).toBe(10);
  });

  it('counts a request that met a transient fault and failed against the recovery rate, and names the target', () => {
    const run = goodRun();
    run.samples = [
      ...run.samples,
      sample({
        phase: 'transient',
        startMs: phase('transient').startMs,
        faults: ['drop', 'drop'],
        status: 502,
        outcome: 'failed',
        cause: 'upstream_error',
      }),
    ];
    const summary = summarize(run);
    expect(summary.recovery).toEqual({
      met: 31,
      recovered: 30,
      rate: 30 / 31,
      failures: { '502 upstream_error (met drop, drop)': 1 },
    });
    expect(summary.ok).toBe(false);
    expect(summary.targets.filter((t) => !t.ok).map((t) => t.name)).toEqual([
      'recovery rate on transient faults ≥ 99.00 %',
    ]);
  });

  it('leaves out of the recovery rate requests that met the outage, or were in flight during it', () => {
    const outage = phase('outage');
    const samples = [
      sample({ phase: 'throttling', faults: ['throttle_429', 'outage'], outcome: 'failed' }),
      sample({
        phase: 'throttling',
        startMs: outage.startMs - 500,
        latencyMs: 1_000,
        faults: ['throttle_429'],
        outcome: 'failed',
      }),
      sample({ phase: 'throttling', startMs: outage.startMs - 500, latencyMs: 100, faults: ['throttle_429'] }),
      sample({ noisy: true, faults: ['drop'], outcome: 'failed' }),
    ];
    expect(recoveryOf(samples, phases)).toEqual({ met: 1, recovered: 1, rate: 1, failures: {} });
  });

  it('misses when too few requests met a fault to judge, a breaker never opened, or a well-behaved client was limited', () => {
    const run = goodRun();
    run.samples = run.samples.filter((s) => s.phase !== 'transient');
    run.samples.push(sample({ status: 429, outcome: 'rate_limited' }));
    run.breakers.koa = { opens: 0, opensInOutage: 0, recoveries: 0, state: 'closed' };
    const missed = summarize(run)
      .targets.filter((t) => !t.ok)
      .map((t) => t.name);
    expect(missed).toContain('recovery rate on transient faults ≥ 99.00 %');
    expect(missed).toContain('every API’s provider breaker opened in the outage');
    expect(missed).toContain('the noisy client was rate-limited, the others never');
  });

  it('holds the breaker targets per API and on the outage, not on opens and closes before it', () => {
    // Koa's breaker opened and closed again in the transient phase, then stayed closed through
    // the outage: counted over the run and summed over the APIs, its open and its recovery
    // looked like the outage's.
    const run = goodRun();
    const transient = phase('transient');
    run.breakers.koa = {
      opens: 1,
      opensInOutage: 0,
      recoveries: 1,
      state: 'closed',
      lastClosedMs: transient.startMs + 500,
    };
    const missed = Object.fromEntries(
      summarize(run)
        .targets.filter((t) => !t.ok)
        .map((t) => [t.name, t.value]),
    );
    expect(missed).toEqual({
      'every API’s provider breaker opened in the outage': 'never opened in the outage: koa',
      'every breaker closed again after the outage': 'not closed since the outage began: koa',
    });
  });

  it('says why a target missed on a run too short to judge it, not "2 of 2 (100.00 %)" against ≥ 99 %', () => {
    const run = goodRun();
    const transient = run.samples.filter((s) => s.phase === 'transient');
    run.samples = run.samples.filter(
      (s) => (s.phase !== 'transient' || s === transient[0] || s === transient[1]) && s.kind !== 'replay',
    );
    run.sagas = each(() => ({
      completed: 5,
      compensated: 0,
      compensationFailed: 0,
      declined: 0,
      declinedCompensated: 0,
    }));
    const missed = Object.fromEntries(
      summarize(run)
        .targets.filter((t) => !t.ok)
        .map((t) => [t.name, t.value]),
    );
    expect(missed).toEqual({
      'recovery rate on transient faults ≥ 99.00 %':
        '2 of 2 (100.00 %), too few to judge: 5 needed (a longer --duration meets more)',
      'repeated orders were answered from the idempotency record': 'none sent (a longer --duration sends some)',
      'every declined payment’s reservation was released by the saga':
        'no card was declined (a longer --duration declines some)',
    });
  });

  it('holds the alerts target only on alerts that fired in the outage, as it says', () => {
    // The transient phase's slow answers fire high_timeout_rate too: those alone say nothing of the outage.
    const run = goodRun();
    run.alerts = each(() => ({ fired: 2, firedInOutage: 0, resolved: 2, active: 0, names: ['high_timeout_rate'] }));
    const target = summarize(run).targets.find((t) => t.name.startsWith('alerts fired'))!;
    expect(target).toEqual({
      name: 'alerts fired in the outage and resolved by the end',
      ok: false,
      value: '6 fired (none in the outage), 6 resolved, 0 active',
    });
    expect(summarize(goodRun()).targets.find((t) => t.name.startsWith('alerts fired'))!.value).toBe(
      '6 fired (3 in the outage), 6 resolved, 0 active',
    );
  });

  it('counts success after the breakers closed only from then on', () => {
    const run = goodRun();
    const recovery = phase('recovery');
    run.samples.push(sample({ phase: 'recovery', startMs: recovery.startMs + 100, status: 503, outcome: 'failed' }));
    expect(summarize(run).ok).toBe(true);
    run.samples.push(sample({ phase: 'recovery', startMs: recovery.startMs + 600, status: 503, outcome: 'failed' }));
    expect(summarize(run).targets.find((t) => t.name.startsWith('success once'))!.ok).toBe(false);
  });

  it('judges the shared quota by what one token bucket admits over the span: 5 + 2 a second', () => {
    const noisy = (startMs: number, outcome: Sample['outcome']) => sample({ noisy: true, startMs, outcome });
    // Ten seconds of a noisy client, the last admitted one answered at 9.77 s: one bucket admits at most 5 + 2 × 9.77 = 24.
    const run = goodRun();
    run.samples = run.samples.filter((s) => !s.noisy);
    for (let i = 0; i <= 40; i++) run.samples.push(noisy(i * 250, i % 3 === 0 ? 'ok' : 'rate_limited'));
    expect(admittedOf(run.samples.filter((s) => s.noisy)).express).toEqual({ admitted: 14, limit: 24 });
    expect(summarize(run).ok).toBe(true);
    // Two instances that do not share the bucket let through about twice as many.
    for (let i = 0; i <= 40; i++) run.samples.push(noisy(i * 250 + 100, 'ok'));
    const target = summarize(run).targets.find((t) => t.name.startsWith("the noisy client's quota"))!;
    expect(target.ok).toBe(false);
    expect(target.value).toContain('express 55 ≤ 25'); // its last answer at 10.12 s
  });

  it('judges the shared quota at every answer, so one slow answer does not stretch the span', () => {
    // Two unshared buckets let through all of ten seconds of a noisy client; one of its
    // requests took 20 s to answer. Over the span to that answer one bucket could have
    // admitted 5 + 2 × 25 = 55, but the other 40 were answered by 10.02 s: at most 25 then.
    const run = goodRun();
    run.samples = run.samples.filter((s) => !s.noisy);
    for (let i = 0; i <= 40; i++) {
      run.samples.push(sample({ noisy: true, startMs: i * 250, latencyMs: i === 20 ? 20_000 : 20, outcome: 'ok' }));
    }
    expect(admittedOf(run.samples.filter((s) => s.noisy)).express).toEqual({ admitted: 40, limit: 25 });
    const target = summarize(run).targets.find((t) => t.name.startsWith("the noisy client's quota"))!;
    expect(target.ok).toBe(false);
  });
});

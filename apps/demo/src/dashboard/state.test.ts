import { describe, expect, it } from 'vitest';
import { latestOfEach, upstreamFrame } from './state.js';

describe('the alerts the page lists', () => {
  it('show each alert once, as it is now: resolved when its resolution is newer than its firing', () => {
    const history = [
      { api: 'koa', name: 'high_error_rate', status: 'resolved', at: 30 },
      { api: 'trpc', name: 'high_error_rate', status: 'firing', at: 20 },
      { api: 'koa', name: 'high_error_rate', status: 'firing', at: 10 },
    ];
    expect(latestOfEach(history).map((a) => `${a.api} ${a.name} ${a.status}`)).toEqual([
      'koa high_error_rate resolved',
      'trpc high_error_rate firing',
    ]);
  });
});

describe('the upstream calls the page shows', () => {
  const snapshot = (failed: number, errorsByType: Record<string, number>) => ({
    calls: 20,
    failed,
    retries: 7,
    errorsByType,
    latency: { p50: 1, p95: 2, p99: 3 },
  });

  it("tell the provider's faults (failed) from the client's own refusals without a call (refused)", () => {
    const frame = upstreamFrame(
      snapshot(10, {
        UpstreamError: 2,
        TimeoutError: 1,
        BrokenCircuitError: 5,
        IsolatedCircuitError: 1,
        ThrottledError: 1,
      }),
    );
    expect(frame).toEqual({ calls: 20, retries: 7, failedRate: 3 / 20, refusedRate: 7 / 20, p50: 1, p95: 2, p99: 3 });
  });

  it('count a recovery whose only failures are an open breaker refusing as nothing failed', () => {
    const frame = upstreamFrame(snapshot(6, { BrokenCircuitError: 6 }));
    expect([frame.failedRate, frame.refusedRate]).toEqual([0, 6 / 20]);
  });

  it('never show more refused than failed, nor a share of no calls', () => {
    expect(upstreamFrame(snapshot(2, { BrokenCircuitError: 5 })).failedRate).toBe(0);
    expect(upstreamFrame(snapshot(2, { BrokenCircuitError: 5 })).refusedRate).toBe(2 / 20);
    const idle = upstreamFrame({ ...snapshot(0, {}), calls: 0 });
    expect([idle.failedRate, idle.refusedRate]).toEqual([0, 0]);
  });
});

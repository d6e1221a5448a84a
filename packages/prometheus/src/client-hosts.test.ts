import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metrics } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { withResilience } from '@resilience/fetch';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { registerResilienceMetrics } from './index.js';
import { find, scrape } from './scrape.test-helper.js';

/** A real server on 127.0.0.1 that answers 200 to everything. */
async function server(): Promise<{ url: string; close: () => Promise<void> }> {
  const s: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  };
}

const servers: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

const calls = (samples: Awaited<ReturnType<typeof scrape>>['samples'], name: string) =>
  find(samples, 'resilience_calls_total', { name, outcome: 'ok' })[0]?.value;

describe('a resilient client’s per-host collectors (collectors as a function)', () => {
  it('cannot be exported as a record taken at registration: hosts are made on their first request', async () => {
    const a = await server();
    servers.push(a);
    const api = withResilience(fetch, { metrics: true, retry: false });
    const registry = new Registry();
    const record = Object.fromEntries(api.client.hosts().map((h) => [h, api.client.host(h)!.metrics!]));
    registerResilienceMetrics(registry, { collectors: record });
    await (await api(`${a.url}/one`)).text();
    expect(api.client.host(new URL(a.url).host)?.metrics?.snapshot().lifetime.ok).toBe(1);
    expect(find((await scrape(registry)).samples, 'resilience_calls_total')).toEqual([]);
  });

  it('exports the call counts of each host the client met, hosts met after registration included', async () => {
    const a = await server();
    const b = await server();
    servers.push(a, b);
    const api = withResilience(fetch, { metrics: true, retry: false });
    const hostA = new URL(a.url).host;
    const hostB = new URL(b.url).host;
    const registry = new Registry();
    registerResilienceMetrics(registry, {
      collectors: () => Object.fromEntries(api.client.hosts().map((h) => [h, api.client.host(h)?.metrics])),
    });

    await (await api(`${a.url}/one`)).text();
    await (await api(`${a.url}/two`)).text();
    await (await api(`${b.url}/one`)).text();

    const { samples } = await scrape(registry);
    expect(calls(samples, hostA)).toBe(2);
    expect(calls(samples, hostB)).toBe(1);
    expect(find(samples, 'resilience_call_duration_seconds_count', { name: hostA })[0]?.value).toBe(0);

    // Subscribed at that scrape: later calls are in the histogram too.
    await (await api(`${b.url}/two`)).text();
    const later = (await scrape(registry)).samples;
    expect(calls(later, hostB)).toBe(2);
    expect(find(later, 'resilience_call_duration_seconds_count', { name: hostB })[0]?.value).toBe(1);
  });

  it('keeps a host’s counters from going back when it is evicted (maxHosts) and met again', async () => {
    const a = await server();
    const b = await server();
    servers.push(a, b);
    const api = withResilience(fetch, { metrics: true, retry: false, maxHosts: 1 });
    const hostA = new URL(a.url).host;
    const registry = new Registry();
    registerResilienceMetrics(registry, {
      collectors: () => Object.fromEntries(api.client.hosts().map((h) => [h, api.client.host(h)?.metrics])),
    });

    for (let i = 0; i < 3; i++) await (await api(`${a.url}/${i}`)).text();
    expect(calls((await scrape(registry)).samples, hostA)).toBe(3);

    // b evicts a; the series of a stays at 3 (no collector left to read, its count carried).
    await (await api(`${b.url}/x`)).text();
    expect(calls((await scrape(registry)).samples, hostA)).toBe(3);

    // a is met again with a new collector, which starts at 0: the series goes on from 3.
    await (await api(`${a.url}/again`)).text();
    expect(api.client.host(hostA)?.metrics?.snapshot().lifetime.ok).toBe(1);
    expect(calls((await scrape(registry)).samples, hostA)).toBe(4);
  });
});

describe('collectors as a function', () => {
  it('reports the first 32 names as themselves and later ones as other, summed and never going back', async () => {
    const clock = new FakeClock();
    const live = new Map<string, ReturnType<typeof metrics>>();
    for (let i = 0; i < 34; i++) {
      const stats = metrics({ clock });
      stats.recordCall({ latencyMs: 5, ok: true });
      live.set(`host-${i}`, stats);
    }
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: () => Object.fromEntries(live) });
    const first = (await scrape(registry)).samples;
    expect(new Set(find(first, 'resilience_calls_total', { outcome: 'ok' }).map((s) => s.labels.name)).size).toBe(33);
    expect(calls(first, 'host-31')).toBe(1);
    expect(calls(first, 'host-32')).toBeUndefined();
    expect(calls(first, 'other')).toBe(2);

    // One of other's collectors leaves: its count is kept in other.
    live.delete('host-33');
    expect(calls((await scrape(registry)).samples, 'other')).toBe(2);
    // A collector reset() (counts since the reset) does not take its series back either.
    live.get('host-0')!.reset();
    expect(calls((await scrape(registry)).samples, 'host-0')).toBe(1);
    live.get('host-0')!.recordCall({ latencyMs: 5, ok: true });
    expect(calls((await scrape(registry)).samples, 'host-0')).toBe(2);
  });

  it('keeps a carried reason’s series while the collector that replaced it has not counted that reason', async () => {
    const clock = new FakeClock();
    const old = metrics({ clock });
    old.recordRejection('circuit_open');
    old.recordRejection('circuit_open');
    let live: Record<string, ReturnType<typeof metrics>> = { a: old };
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: () => live });
    const rejected = async () =>
      find((await scrape(registry)).samples, 'resilience_rejections_total', { name: 'a', reason: 'circuit_open' })[0]
        ?.value;
    expect(await rejected()).toBe(2);
    live = { a: metrics({ clock }) }; // a evicted and met again
    expect(await rejected()).toBe(2);
    live.a!.recordRejection('circuit_open');
    expect(await rejected()).toBe(3);
  });

  it('keeps breaker names in breaker opens bounded across collectors that come and go, one breaker each', async () => {
    const clock = new FakeClock();
    let live: Record<string, ReturnType<typeof metrics>> = {};
    const hosts = (from: number) => {
      live = {};
      for (let i = from; i < from + 40; i++) {
        const stats = metrics({ clock });
        stats.recordStateChange(`api:h-${i}`, 'open');
        live[`h-${i}`] = stats;
      }
    };
    hosts(0);
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: () => live });
    const opens = async () => find((await scrape(registry)).samples, 'resilience_circuit_breaker_opens_total');
    let series = await opens();
    expect(new Set(series.map((s) => s.labels.name)).size).toBe(33);
    expect(series.reduce((sum, s) => sum + s.value, 0)).toBe(40);
    hosts(40); // every host evicted, 40 new ones with their own breakers
    series = await opens();
    expect(series.length).toBeLessThanOrEqual(33 * 2); // collector × breaker name: both bounded
    expect(new Set(series.map((s) => s.labels.name)).size).toBe(33);
    expect(series.reduce((sum, s) => sum + s.value, 0)).toBe(80);
    expect(
      find(series, 'resilience_circuit_breaker_opens_total', { collector: 'other', name: 'other' })[0]?.value,
    ).toBe(48);
  });

  it('lists no collectors in a scrape whose function throws or answers no record, and skips entries that are none', async () => {
    let answer: () => unknown = () => {
      throw new Error('down');
    };
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: (() => answer()) as () => Record<string, never> });
    expect(find((await scrape(registry)).samples, 'resilience_calls_total')).toEqual([]);
    answer = () => 'nonsense';
    expect(find((await scrape(registry)).samples, 'resilience_calls_total')).toEqual([]);
    const stats = metrics({ clock: new FakeClock() });
    stats.recordCall({ latencyMs: 5, ok: true });
    answer = () => ({ one: stats, two: { not: 'a collector' } });
    const { samples } = await scrape(registry);
    expect(calls(samples, 'one')).toBe(1);
    expect(calls(samples, 'two')).toBeUndefined();
  });

  it('unregister() unsubscribes the histogram from every collector followed', async () => {
    const stats = metrics({ clock: new FakeClock() });
    let listeners = 0;
    const source = {
      snapshot: () => stats.snapshot(),
      onCall: (listener: Parameters<typeof stats.onCall>[0]) => {
        listeners++;
        const stop = stats.onCall(listener);
        return () => {
          listeners--;
          stop();
        };
      },
    };
    let present = true;
    const registry = new Registry();
    const registered = registerResilienceMetrics(registry, {
      collectors: () => (present ? { one: source } : {}),
    });
    expect(listeners).toBe(1); // subscribed at registration
    await scrape(registry);
    expect(listeners).toBe(1);
    present = false;
    await scrape(registry);
    expect(listeners).toBe(0); // gone from the list: unsubscribed
    present = true;
    await scrape(registry);
    expect(listeners).toBe(1);
    registered.unregister();
    expect(listeners).toBe(0);
  });
});

describe('fixed collectors', () => {
  it('a collector’s reset() does not take its _total series back', async () => {
    const stats = metrics({ clock: new FakeClock() });
    for (let i = 0; i < 3; i++) stats.recordCall({ latencyMs: 5, ok: true });
    stats.recordRetry();
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: stats, summary: true });
    expect(find((await scrape(registry)).samples, 'resilience_calls_total', { outcome: 'ok' })[0]?.value).toBe(3);
    stats.reset();
    stats.recordCall({ latencyMs: 5, ok: true });
    const { samples } = await scrape(registry);
    expect(find(samples, 'resilience_calls_total', { outcome: 'ok' })[0]?.value).toBe(4);
    expect(find(samples, 'resilience_retries_total')[0]?.value).toBe(1);
    expect(find(samples, 'resilience_call_duration_summary_seconds_count')[0]?.value).toBe(4);
  });

  it('a collector’s reset() is carried whole: a count that caught up by the next scrape is not lost', async () => {
    const stats = metrics({ clock: new FakeClock() });
    for (let i = 0; i < 3; i++) stats.recordCall({ latencyMs: 5, ok: true });
    stats.recordCall({ latencyMs: 5, ok: false });
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: stats });
    await scrape(registry);
    stats.reset();
    // Busy traffic between two scrapes: ok is past its count before the reset, failed is not.
    for (let i = 0; i < 5; i++) stats.recordCall({ latencyMs: 5, ok: true });
    const { samples } = await scrape(registry);
    expect(find(samples, 'resilience_calls_total', { outcome: 'ok' })[0]?.value).toBe(8);
    expect(find(samples, 'resilience_calls_total', { outcome: 'failed' })[0]?.value).toBe(1);
  });

  it('a collector’s reset() after which every count caught up by the next scrape is told by the calls it reported', async () => {
    for (const listed of [false, true]) {
      const stats = metrics({ clock: new FakeClock() });
      for (let i = 0; i < 3; i++) stats.recordCall({ latencyMs: 5, ok: true });
      stats.recordCall({ latencyMs: 5, ok: false });
      const registry = new Registry();
      registerResilienceMetrics(registry, { collectors: listed ? () => ({ api: stats }) : stats, summary: true });
      await scrape(registry);
      stats.recordCall({ latencyMs: 5, ok: true }); // counted before the reset, not yet scraped: lost
      stats.reset();
      // Busy traffic between two scrapes: every count is past where it was (ok 3, failed 1).
      for (let i = 0; i < 4; i++) stats.recordCall({ latencyMs: 5, ok: true });
      stats.recordCall({ latencyMs: 5, ok: false });
      stats.recordCall({ latencyMs: 5, ok: false });
      const labels = listed ? { name: 'api' } : {};
      const { samples } = await scrape(registry);
      expect(find(samples, 'resilience_calls_total', { ...labels, outcome: 'ok' })[0]?.value, `${listed}`).toBe(7);
      expect(find(samples, 'resilience_calls_total', { ...labels, outcome: 'failed' })[0]?.value).toBe(3);
      expect(find(samples, 'resilience_call_duration_summary_seconds_count', labels)[0]?.value).toBe(10);
      // Calls without a reset are never taken for one.
      stats.recordCall({ latencyMs: 5, ok: true });
      const after = (await scrape(registry)).samples;
      expect(find(after, 'resilience_calls_total', { ...labels, outcome: 'ok' })[0]?.value).toBe(8);
    }
  });

  it('a collector’s reset() keeps the series of rejection reasons and breaker names it has not met again', async () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordRejection('circuit_open');
    stats.recordRejection('circuit_open');
    stats.recordStateChange('payments', 'open');
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: stats });
    await scrape(registry);
    stats.reset(); // its records start empty: no 'circuit_open', no 'payments'
    let { samples } = await scrape(registry);
    // Absent, the series would read as gone (and return later from 1, a counter reset to rate()).
    expect(find(samples, 'resilience_rejections_total', { reason: 'circuit_open' })[0]?.value).toBe(2);
    expect(find(samples, 'resilience_circuit_breaker_opens_total', { name: 'payments' })[0]?.value).toBe(1);
    stats.recordRejection('circuit_open');
    stats.recordStateChange('payments', 'open');
    ({ samples } = await scrape(registry));
    expect(find(samples, 'resilience_rejections_total', { reason: 'circuit_open' })[0]?.value).toBe(3);
    expect(find(samples, 'resilience_circuit_breaker_opens_total', { name: 'payments' })[0]?.value).toBe(2);
  });
});

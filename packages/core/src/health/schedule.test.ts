import { describe, expect, it } from 'vitest';
import { systemClock } from '../clock/clock.js';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { health } from './health.js';

/** A check that counts its runs, takes `ms` on the clock, and fails while `down` says so. */
function probe(clock: FakeClock, ms = 0) {
  const state = { runs: 0, down: false };
  const check = async () => {
    state.runs++;
    if (ms > 0) await clock.sleep(ms);
    return !state.down;
  };
  return { state, check };
}

describe('health on a schedule', () => {
  it('never keeps the process alive by its schedule, and stop() clears it (the system clock)', async () => {
    const refed = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = refed();
    const probes = health({ clock: systemClock }).register('db', () => true);
    probes.start({ intervalMs: 60_000 });
    expect((await probes.run()).status).toBe('healthy'); // the first round is done: its next is on a timer
    expect(refed()).toBe(before); // a script that forgot stop() still exits
    probes.stop();
    expect(refed()).toBe(before);
  });

  it('runs the checks at start and every intervalMs, and serves the last result without running a check', async () => {
    const clock = new FakeClock();
    const db = probe(clock, 50);
    const probes = health({ clock }).register('db', db.check);
    probes.start({ intervalMs: 30_000 });
    expect(db.state.runs).toBe(1);
    await clock.advance(50);
    for (let i = 0; i < 5; i++) expect((await probes.run()).status).toBe('healthy');
    expect(db.state.runs).toBe(1);
    db.state.down = true;
    await clock.advance(30_000); // the next round starts 30 s after the first settled
    expect((await probes.run()).status).toBe('healthy');
    await clock.advance(50);
    const report = await probes.run();
    expect([report.status, report.healthy, report.failed]).toEqual(['unhealthy', false, ['db']]);
    expect(db.state.runs).toBe(2);
    probes.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('makes a request that comes before the first round settles wait for it, not start another', async () => {
    const clock = new FakeClock();
    const db = probe(clock, 100);
    const probes = health({ clock }).register('db', db.check);
    probes.start();
    const early = probes.run();
    await clock.advance(100);
    expect((await early).checks.db?.durationMs).toBe(100);
    expect(db.state.runs).toBe(1);
    probes.stop();
  });

  it('runs every 30 s by default', async () => {
    const clock = new FakeClock();
    const db = probe(clock);
    const probes = health({ clock }).register('db', db.check);
    probes.start();
    await clock.advance(29_999);
    expect(db.state.runs).toBe(1);
    await clock.advance(1);
    expect(db.state.runs).toBe(2);
    probes.stop();
  });

  it('serves each kind from the same round', async () => {
    const clock = new FakeClock();
    const db = probe(clock);
    const loop = probe(clock);
    const probes = health({ clock }).register('db', db.check).register('loop', loop.check, { kind: 'liveness' });
    db.state.down = true;
    probes.start();
    await clock.advance(0);
    expect(await probes.run({ kind: 'liveness' })).toMatchObject({ status: 'healthy', failed: [] });
    expect(await probes.run({ kind: 'readiness' })).toMatchObject({ status: 'unhealthy', failed: ['db'] });
    expect(await probes.run()).toMatchObject({ status: 'degraded', healthy: true, failed: ['db'] });
    expect([db.state.runs, loop.state.runs]).toEqual([1, 1]);
    probes.stop();
  });

  it('runs a check registered while started at once, off the request path, and drops an unregistered one', async () => {
    const clock = new FakeClock();
    const probes = health({ clock }).register('db', probe(clock).check);
    probes.start({ intervalMs: 10_000 });
    const cache = probe(clock, 20);
    probes.register('cache', cache.check);
    expect(cache.state.runs).toBe(1);
    const report = probes.run();
    await clock.advance(20);
    expect(Object.keys((await report).checks)).toEqual(['db', 'cache']);
    probes.unregister('db');
    expect(Object.keys((await probes.run()).checks)).toEqual(['cache']);
    expect(cache.state.runs).toBe(1);
    probes.stop();
  });

  it('runs checks on request again once stopped, and replaces the schedule when started again', async () => {
    const clock = new FakeClock();
    const db = probe(clock);
    const probes = health({ clock }).register('db', db.check);
    probes.start({ intervalMs: 1_000 });
    probes.start({ intervalMs: 5_000 }); // joins the round in flight
    expect(db.state.runs).toBe(1);
    await clock.advance(5_000);
    expect(db.state.runs).toBe(2);
    expect(clock.pendingTimers).toBe(1);
    probes.stop();
    await probes.run();
    expect(db.state.runs).toBe(3);
  });

  it('builds a report at each run, so it has all of cacheMs left', async () => {
    const clock = new FakeClock();
    const probes = health({ clock, cacheMs: 5_000 }).register('db', probe(clock).check);
    probes.start({ intervalMs: 30_000 });
    await clock.advance(10_000);
    expect(probes.maxAgeMs(await probes.run())).toBe(5_000);
    probes.stop();
  });

  it("reports ageMs as the age of the round's oldest reading, not of the report built on request", async () => {
    const clock = new FakeClock();
    const probes = health({ clock }).register('db', probe(clock, 50).check).register('cache', probe(clock, 10).check);
    probes.start({ intervalMs: 30_000 });
    await clock.advance(10_050);
    expect(probes.ageMs(await probes.run())).toBe(10_040); // 'cache' was read at 10 ms
    const uncached = health({ clock }).register('db', () => true);
    expect(uncached.ageMs(await uncached.run())).toBe(0);
    probes.stop();
  });

  it('rejects a bad interval or an unknown option, naming it', () => {
    const probes = health({ clock: new FakeClock() });
    const bad = () => probes.start({ intervalMs: 0, everyMs: 5 } as never);
    expect(bad).toThrow(ConfigurationError);
    expect(bad).toThrow(/everyMs[\s\S]*intervalMs/);
  });
});

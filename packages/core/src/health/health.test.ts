import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { isConfigurationError } from '../errors/errors.js';
import { health } from './health.js';
import { HEALTH_DEFAULTS } from './options.js';

const never = () => new Promise<never>(() => {});

describe('health', () => {
  it('pins its defaults', () => {
    expect(HEALTH_DEFAULTS).toEqual({
      cacheMs: 0,
      timeoutMs: 5_000,
      critical: false,
      failureThreshold: 1,
      kind: 'readiness',
      intervalMs: 30_000,
    });
  });

  it('fails a check that returns an error instead of throwing it (ping().catch((e) => e))', async () => {
    const probes = health().register('db', async () => new Error('db down'), { critical: true });
    const report = await probes.run();
    expect(report.status).toBe('unhealthy');
    expect(report.checks.db).toMatchObject({ status: 'fail', error: 'db down' });
  });

  it('serves no cached report once the clock has stepped back behind it, and advertises no age for it', async () => {
    const fake = new FakeClock();
    let t = 1_000_000;
    const clock = {
      ...fake,
      now: () => t,
      setTimeout: fake.setTimeout.bind(fake),
      clearTimeout: fake.clearTimeout.bind(fake),
      sleep: fake.sleep.bind(fake),
    };
    let up = true;
    const probes = health({ clock, cacheMs: 5_000 }).register('db', () => up, { critical: true });
    const first = await probes.run();
    expect(probes.maxAgeMs(first)).toBe(5_000);
    t -= 3_600_000; // an NTP correction of an hour
    up = false;
    expect(probes.maxAgeMs(first)).toBe(0);
    expect((await probes.run()).status).toBe('unhealthy');
  });

  it('hands out frozen reports: one caller cannot change what the next is served from the cache', async () => {
    const probes = health({ cacheMs: 10_000 }).register('db', () => {
      throw new Error('x');
    });
    const report = await probes.run();
    expect(Object.isFrozen(report) && Object.isFrozen(report.checks) && Object.isFrozen(report.failed)).toBe(true);
    expect(Object.isFrozen(report.checks.db)).toBe(true);
    expect(() => {
      (report as { status: string }).status = 'healthy';
    }).toThrow(TypeError);
    expect((await probes.run()).status).toBe('unhealthy'); // its only check is down
  });

  it('stops serving a report cached before start() once the schedule stops', async () => {
    const clock = new FakeClock();
    let up = true;
    const probes = health({ clock, cacheMs: 60_000 }).register('db', () => up, { critical: true });
    expect((await probes.run()).status).toBe('healthy');
    up = false;
    probes.start({ intervalMs: 1_000 });
    await clock.advance(0);
    probes.stop();
    expect((await probes.run()).status).toBe('unhealthy');
  });

  it('is healthy when every check passes, with durations measured on the clock', async () => {
    const clock = new FakeClock(1_000);
    const probes = health({ clock })
      .register('db', async () => {
        await clock.sleep(40);
        return true;
      })
      .register('cache', () => undefined);
    const running = probes.run();
    await clock.advance(40);
    const report = await running;
    expect(report.status).toBe('healthy');
    expect(report.checks.db).toMatchObject({ status: 'pass', durationMs: 40, consecutiveFailures: 0 });
    expect(report.checks.cache).toMatchObject({ status: 'pass', durationMs: 0 });
    expect(report.checks.db).not.toHaveProperty('error');
  });

  it('reports each check in exactly the shape of the contract', async () => {
    const probes = health({ clock: new FakeClock() })
      .register('db', () => true)
      .register('queue', () => false, { critical: false, kind: 'liveness' });
    expect(await probes.run()).toEqual({
      status: 'degraded',
      healthy: true,
      failed: ['queue'],
      checks: {
        db: { status: 'pass', durationMs: 0, consecutiveFailures: 0 },
        queue: { status: 'fail', durationMs: 0, error: 'check returned false', consecutiveFailures: 1 },
      },
    });
  });

  it('runs checks concurrently, so the run takes as long as the slowest check', async () => {
    const clock = new FakeClock();
    const probes = health({ clock });
    for (const name of ['a', 'b', 'c']) probes.register(name, () => clock.sleep(100));
    let done = false;
    const running = probes.run().then((r) => {
      done = true;
      return r;
    });
    await clock.advance(100);
    expect(done).toBe(true);
    expect((await running).status).toBe('healthy');
  });

  it('fails a check by throwing, rejecting or returning false, and reports the reason', async () => {
    const probes = health({ clock: new FakeClock() })
      .register('throws', () => {
        throw new Error('connection refused');
      })
      .register('rejects', () => Promise.reject(new Error('auth failed')))
      .register('false', () => false);
    const { checks } = await probes.run();
    expect(checks.throws).toMatchObject({ status: 'fail', error: 'connection refused', consecutiveFailures: 1 });
    expect(checks.rejects).toMatchObject({ status: 'fail', error: 'auth failed' });
    expect(checks.false).toMatchObject({ status: 'fail', error: 'check returned false' });
  });

  it('warns when a check returns "warn" or a detail with status warn', async () => {
    const probes = health({ clock: new FakeClock() })
      .register('lag', () => 'warn')
      .register('disk', () => ({ status: 'warn', observedValue: 91, observedUnit: 'percent', output: 'disk 91 %' }));
    const report = await probes.run();
    expect(report.status).toBe('degraded');
    expect(report.checks.lag).toMatchObject({ status: 'warn', consecutiveFailures: 0 });
    expect(report.checks.disk).toMatchObject({ observedValue: 91, observedUnit: 'percent', output: 'disk 91 %' });
  });

  it('fails a detail whose status is of another vocabulary, so an outage never reads as healthy', async () => {
    const probes = health({ clock: new FakeClock() })
      .register('nest', () => ({ status: 'down' }) as never)
      .register('shout', () => ({ status: 'FAIL', output: 'replica lag' }) as never)
      .register('measured', () => ({ observedValue: 3 }));
    const report = await probes.run();
    expect(report.checks.nest).toMatchObject({ status: 'fail', error: 'check reported down' });
    expect(report.checks.shout).toMatchObject({ status: 'fail', error: 'replica lag' });
    expect(report.checks.measured).toMatchObject({ status: 'pass' });
    expect(report.status).not.toBe('healthy');
  });

  it('fails a check that outlives its timeout and aborts its signal', async () => {
    const clock = new FakeClock();
    let seen: AbortSignal | undefined;
    const probes = health({ clock }).register(
      'slow',
      (signal) => {
        seen = signal;
        return never();
      },
      { timeoutMs: 250 },
    );
    const running = probes.run();
    await clock.advance(249);
    expect(seen?.aborted).toBe(false);
    await clock.advance(1);
    const report = await running;
    expect(report.checks.slow).toMatchObject({ status: 'fail', durationMs: 250, error: 'timed out after 250 ms' });
    expect(seen?.aborted).toBe(true);
    expect((seen!.reason as Error).name).toBe('TimeoutError');
    expect(clock.pendingTimers).toBe(0);
  });

  it('clears the timeout timer of a check that settles in time', async () => {
    const clock = new FakeClock();
    const probes = health({ clock }).register('fast', () => true);
    await probes.run();
    expect(clock.pendingTimers).toBe(0);
  });

  it('is unhealthy when every check fails, from the first run', async () => {
    const probes = health({ clock: new FakeClock() })
      .register('db', () => false)
      .register('cache', () => Promise.reject(new Error('ECONNREFUSED')));
    expect((await probes.run()).status).toBe('unhealthy');
  });

  it('stays degraded while some checks fail and others pass, however long it lasts', async () => {
    const probes = health({ clock: new FakeClock() })
      .register('db', () => true)
      .register('cache', () => true)
      .register('search', () => false);
    for (let i = 0; i < 5; i++) expect((await probes.run()).status).toBe('degraded');
    expect((await probes.run()).checks.search?.consecutiveFailures).toBe(6);
  });

  it('turns unhealthy when a critical check fails, whatever the others report', async () => {
    const probes = health({ clock: new FakeClock() })
      .register('ok', () => true)
      .register('warns', () => 'warn')
      .register('down', () => false, { critical: true });
    expect((await probes.run()).status).toBe('unhealthy');
  });

  it('counts a check as down once it has failed failureThreshold times in a row', async () => {
    let up = false;
    const probes = health({ clock: new FakeClock() })
      .register('cache', () => true)
      .register('db', () => up, { critical: true, failureThreshold: 3 });
    expect((await probes.run()).status).toBe('degraded');
    expect((await probes.run()).status).toBe('degraded');
    const third = await probes.run();
    expect(third.status).toBe('unhealthy');
    expect(third.checks.db?.consecutiveFailures).toBe(3);
    up = true;
    const recovered = await probes.run();
    expect(recovered.status).toBe('healthy');
    expect(recovered.checks.db?.consecutiveFailures).toBe(0);
    up = false;
    expect((await probes.run()).status).toBe('degraded'); // the count started again
  });

  it('waits for failureThreshold before every failing check makes it unhealthy', async () => {
    const probes = health({ clock: new FakeClock() }).register('db', () => false, { failureThreshold: 2 });
    expect((await probes.run()).status).toBe('degraded');
    expect((await probes.run()).status).toBe('unhealthy');
  });

  it('is healthy with no checks registered', async () => {
    expect(await health({ clock: new FakeClock() }).run()).toEqual({
      status: 'healthy',
      healthy: true,
      failed: [],
      checks: {},
    });
  });

  it('runs only the checks of the kind asked for', async () => {
    const probes = health({ clock: new FakeClock() })
      .register('event-loop', () => true, { kind: 'liveness' })
      .register('db', () => false)
      .register('queue', () => true, { kind: 'readiness' });
    const live = await probes.run({ kind: 'liveness' });
    expect(Object.keys(live.checks)).toEqual(['event-loop']);
    expect(live.status).toBe('healthy');
    const ready = await probes.run({ kind: 'readiness' });
    expect(Object.keys(ready.checks)).toEqual(['db', 'queue']);
    expect(Object.keys((await probes.run()).checks)).toEqual(['event-loop', 'db', 'queue']);
  });

  it('reuses a result for cacheMs, then runs the checks again', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const probes = health({ clock, cacheMs: 1_000 }).register('db', () => {
      calls++;
      return true;
    });
    const first = await probes.run();
    await clock.advance(999);
    expect(await probes.run()).toBe(first);
    expect(calls).toBe(1);
    await clock.advance(1);
    await probes.run();
    expect(calls).toBe(2);
  });

  it('gives a cached report only what is left of cacheMs as its max age, never below 0', async () => {
    const clock = new FakeClock();
    const probes = health({ clock, cacheMs: 5_000 }).register('db', () => true);
    const first = await probes.run();
    expect(probes.maxAgeMs(first)).toBe(5_000);
    await clock.advance(3_000);
    const cached = await probes.run();
    expect(cached).toBe(first);
    expect(probes.maxAgeMs(cached)).toBe(2_000);
    await clock.advance(1_999);
    expect(probes.maxAgeMs(await probes.run())).toBe(1);
    await clock.advance(1);
    const next = await probes.run();
    expect(next).not.toBe(first);
    expect(probes.maxAgeMs(next)).toBe(5_000);
    await clock.advance(60_000);
    expect(probes.maxAgeMs(first)).toBe(0);
  });

  it('ages a report from the end of its run, and each kind from its own', async () => {
    const clock = new FakeClock();
    const probes = health({ clock, cacheMs: 5_000 })
      .register('db', () => clock.sleep(1_000))
      .register('loop', () => true, { kind: 'liveness' });
    const running = probes.run({ kind: 'readiness' });
    await clock.advance(1_000);
    const ready = await running;
    expect(probes.maxAgeMs(ready)).toBe(5_000);
    await clock.advance(2_000);
    const live = await probes.run({ kind: 'liveness' });
    expect([probes.maxAgeMs(ready), probes.maxAgeMs(live)]).toEqual([3_000, 5_000]);
  });

  it('gives no max age without a cache, or to a report it did not build', async () => {
    const clock = new FakeClock();
    const uncached = health({ clock }).register('db', () => true);
    expect(uncached.maxAgeMs(await uncached.run())).toBe(0);
    const cached = health({ clock, cacheMs: 5_000 }).register('db', () => true);
    const report = await cached.run();
    expect(cached.maxAgeMs({ ...report })).toBe(0);
    expect(uncached.maxAgeMs(report)).toBe(0);
  });

  it('caches each kind separately and forgets the cache when checks change', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const probes = health({ clock, cacheMs: 10_000 }).register('db', () => {
      calls++;
      return true;
    });
    await probes.run();
    await probes.run({ kind: 'readiness' });
    expect(calls).toBe(2);
    probes.register('other', () => true);
    expect(Object.keys((await probes.run()).checks)).toEqual(['db', 'other']);
    expect(probes.names).toEqual(['db', 'other']);
    expect(probes.unregister('other')).toBe(true);
    expect(probes.unregister('other')).toBe(false);
    expect(Object.keys((await probes.run()).checks)).toEqual(['db']);
  });

  it('does not cache a run that started before the checks changed', async () => {
    // What graceful shutdown relies on: registering a failing check turns readiness to fail at
    // once, even while a probe that started earlier is still running.
    const clock = new FakeClock();
    let slow = true;
    const probes = health({ clock, cacheMs: 10_000 }).register('db', () => (slow ? clock.sleep(50) : true));
    const earlier = probes.run({ kind: 'readiness' });
    probes.register('shutdown', () => false, { critical: true });
    await clock.advance(50);
    const stale = await earlier;
    expect(stale.status).toBe('healthy');
    expect(probes.maxAgeMs(stale)).toBe(0); // nor may an HTTP cache keep it
    slow = false;
    expect((await probes.run({ kind: 'readiness' })).status).toBe('unhealthy');
  });

  it('does not cache by default', async () => {
    let calls = 0;
    const probes = health({ clock: new FakeClock() }).register('db', () => {
      calls++;
      return true;
    });
    await probes.run();
    await probes.run();
    expect(calls).toBe(2);
  });

  it('joins a check already running instead of starting it twice', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const probes = health({ clock }).register('db', async () => {
      calls++;
      await clock.sleep(50);
      return false;
    });
    const a = probes.run();
    const b = probes.run();
    await clock.advance(50);
    const [ra, rb] = await Promise.all([a, b]);
    expect(calls).toBe(1);
    expect(ra.checks.db?.consecutiveFailures).toBe(1);
    expect(rb.checks.db?.consecutiveFailures).toBe(1);
    const again = probes.run();
    await clock.advance(50);
    expect((await again).checks.db?.consecutiveFailures).toBe(2);
    expect(calls).toBe(2);
  });

  it('never starts a check again while its call that outlived the timeout still runs', async () => {
    const clock = new FakeClock();
    let calls = 0;
    let finish!: () => void;
    const probes = health({ clock }).register(
      'db',
      () => {
        calls++;
        return new Promise<void>((resolve) => (finish = resolve)); // ignores its signal
      },
      { timeoutMs: 100 },
    );
    for (let run = 1; run <= 3; run++) {
      const report = probes.run();
      await clock.advance(100);
      expect((await report).checks.db).toMatchObject({ status: 'fail', consecutiveFailures: run });
    }
    expect(calls).toBe(1);
    const joined = probes.run(); // the late answer still counts, within this run's timeout
    finish();
    expect((await joined).checks.db?.status).toBe('pass');
    void probes.run();
    expect(calls).toBe(2);
    await clock.advance(100);
  });

  it('starts a check again after it threw synchronously', async () => {
    let calls = 0;
    const probes = health({ clock: new FakeClock() }).register('db', () => {
      calls++;
      throw new Error('down');
    });
    await probes.run();
    await probes.run();
    expect(calls).toBe(2);
  });

  it('reports every bad option in one ConfigurationError', () => {
    const probes = health({ clock: new FakeClock() }).register('db', () => true);
    let error: unknown;
    try {
      probes.register('db', 'nope' as never, {
        timeoutMs: 0,
        failureThreshold: 0.5,
        kind: 'startup' as never,
        critical: 'yes' as never,
      });
    } catch (e) {
      error = e;
    }
    expect(isConfigurationError(error)).toBe(true);
    const options = (error as { issues: { option: string }[] }).issues.map((i) => i.option);
    expect(options).toEqual(['name', 'check', 'timeoutMs', 'critical', 'failureThreshold', 'kind']);
    expect(() => health({ cacheMs: -1, clock: {} as never })).toThrow(/cacheMs[\s\S]*clock/);
  });

  it('refuses a check named __proto__, which cannot be a key of the report’s checks', () => {
    expect(() => health({ clock: new FakeClock() }).register('__proto__', () => true)).toThrow(
      'Invalid health check options: name: received "__proto__", expected a name other than __proto__, which cannot be a key of a report',
    );
  });
});

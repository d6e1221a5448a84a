import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { health } from './health.js';
import {
  HEALTH_JSON_CONTENT_TYPE,
  healthCacheControl,
  healthHttpStatus,
  healthResponse,
  toHealthJson,
} from './json.js';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

describe('toHealthJson', () => {
  it('renders a healthy report as pass, with one array entry per check and no output', async () => {
    const probes = health({ clock: new FakeClock(T0) }).register(
      'postgres:responseTime',
      () => ({ observedValue: 12, observedUnit: 'ms' }),
      { componentId: 'db-1', componentType: 'datastore' },
    );
    const doc = toHealthJson(await probes.run(), { time: T0, serviceId: 'orders', version: '1', releaseId: '1.4.2' });
    expect(doc).toEqual({
      status: 'pass',
      version: '1',
      releaseId: '1.4.2',
      serviceId: 'orders',
      checks: {
        'postgres:responseTime': [
          {
            componentId: 'db-1',
            componentType: 'datastore',
            observedValue: 12,
            observedUnit: 'ms',
            status: 'pass',
            time: '2026-01-02T03:04:05.000Z',
          },
        ],
      },
    });
  });

  it('maps degraded to warn and unhealthy to fail, with outputs for the checks that did not pass', async () => {
    const probes = health({ clock: new FakeClock(T0) })
      .register('cache', () => 'warn')
      .register('db', () => Promise.reject(new Error('ECONNREFUSED')), { critical: true, failureThreshold: 2 });
    const degraded = toHealthJson(await probes.run(), { time: T0 });
    expect(degraded.status).toBe('warn');
    expect(degraded.checks['db:responseTime']?.[0]).toMatchObject({ status: 'fail', output: 'ECONNREFUSED' });
    expect(degraded.checks['cache:responseTime']?.[0]).toEqual({
      status: 'warn',
      observedValue: 0,
      observedUnit: 'ms',
      time: '2026-01-02T03:04:05.000Z',
    });
    expect(degraded.output).toBe('cache: warn, db: fail');
    const unhealthy = toHealthJson(await probes.run());
    expect(unhealthy.status).toBe('fail');
  });

  it('prefers a check detail output over the error for warn entries', async () => {
    const probes = health({ clock: new FakeClock(T0) }).register('disk', () => ({
      status: 'warn',
      output: '91 % full',
    }));
    expect(toHealthJson(await probes.run()).checks['disk:responseTime']?.[0]?.output).toBe('91 % full');
  });

  it('leaves out time unless the report time is given', async () => {
    const probes = health({ clock: new FakeClock(T0) }).register('a:connections', () => true);
    expect(toHealthJson(await probes.run()).checks['a:connections']).toEqual([{ status: 'pass' }]);
  });

  it('keys checks "component:measurement": a check that measures nothing itself reports its response time', async () => {
    const clock = new FakeClock(T0);
    const probes = health({ clock })
      .register('postgres', () => clock.sleep(12).then(() => true), { componentType: 'datastore' })
      .register('redis:connections', () => ({ observedValue: 40, observedUnit: 'connections' }))
      .register('disk', () => ({ observedValue: 91, observedUnit: 'percent' }))
      .register('queue:lag', () => true);
    const running = probes.run();
    await clock.advance(12);
    const doc = toHealthJson(await running);
    expect(Object.keys(doc.checks)).toEqual(['postgres:responseTime', 'redis:connections', 'disk', 'queue:lag']);
    expect(doc.checks['postgres:responseTime']).toEqual([
      { componentType: 'datastore', observedValue: 12, observedUnit: 'ms', status: 'pass' },
    ]);
    expect(doc.checks.disk).toEqual([{ observedValue: 91, observedUnit: 'percent', status: 'pass' }]);
    expect(doc.checks['queue:lag']).toEqual([{ status: 'pass' }]);
  });

  it('keeps two checks whose keys meet (a bare name measuring its response time, and that key as a name) in one array', async () => {
    const probes = health({ clock: new FakeClock(T0) })
      .register('db', () => {
        throw new Error('down');
      })
      .register('db:responseTime', () => true)
      .register('constructor', () => ({ observedValue: 1 }));
    const doc = toHealthJson(await probes.run());
    expect(doc.output).toBe('db: fail');
    expect(doc.checks['db:responseTime']).toEqual([
      { status: 'fail', observedValue: 0, observedUnit: 'ms', output: 'down' },
      { status: 'pass' },
    ]);
    expect(doc.checks.constructor).toEqual([{ status: 'pass', observedValue: 1 }]);
  });

  it('survives JSON round-trips unchanged', async () => {
    const probes = health({ clock: new FakeClock(T0) }).register('a', () => false);
    const doc = toHealthJson(await probes.run(), { notes: ['canary'], links: { about: 'https://example.com' } });
    expect(Object.keys(doc.checks)).toEqual(['a:responseTime']);
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});

describe('health HTTP helpers', () => {
  it('answers 200 for pass and warn, 503 for fail', () => {
    expect(healthHttpStatus({ status: 'pass' })).toBe(200);
    expect(healthHttpStatus({ status: 'warn' })).toBe(200);
    expect(healthHttpStatus({ status: 'degraded' })).toBe(200);
    expect(healthHttpStatus({ status: 'fail' })).toBe(503);
    expect(healthHttpStatus({ status: 'unhealthy' })).toBe(503);
  });

  it('sends the cache lifetime in whole seconds, rounded down', () => {
    expect(healthCacheControl(0)).toBe('max-age=0');
    expect(healthCacheControl(2_999)).toBe('max-age=2');
    expect(healthCacheControl(5_000)).toBe('max-age=5');
    expect(healthCacheControl(Number.NaN)).toBe('max-age=0');
  });

  it('builds a full response for adapters', async () => {
    const probes = health({ clock: new FakeClock(T0), cacheMs: 10_000 }).register('db', () => false, {
      failureThreshold: 1,
    });
    const report = await probes.run();
    const response = healthResponse(report, { maxAgeMs: probes.maxAgeMs(report), serviceId: 'orders' });
    expect(response.status).toBe(503);
    expect(response.headers).toEqual({ 'content-type': HEALTH_JSON_CONTENT_TYPE, 'cache-control': 'max-age=10' });
    expect(response.body).toMatchObject({ status: 'fail', serviceId: 'orders' });
    expect(HEALTH_JSON_CONTENT_TYPE).toBe('application/health+json');
  });

  it('sends a cached report with what is left of its cache life, in whole seconds', async () => {
    const clock = new FakeClock(T0);
    const probes = health({ clock, cacheMs: 10_000 }).register('db', () => true);
    await probes.run();
    await clock.advance(2_500);
    const report = await probes.run();
    const response = healthResponse(report, { maxAgeMs: probes.maxAgeMs(report) });
    expect(response.headers['cache-control']).toBe('max-age=7');
  });
});

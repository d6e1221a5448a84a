import http from 'node:http';
import { isConfigurationError, metrics } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientDisconnectedError } from './errors.js';
import { type RequestRecord, requestRecorder } from './record.js';
import { setResponseError } from './request-state.js';
import { deferred, type Served, send, serve } from './testing/http.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

/** A recorder fed by a real server; `records` fills as responses close. */
async function recorded(handler: http.RequestListener, collector = metrics({ clock: new FakeClock() })) {
  const record = requestRecorder({ collector });
  const records: RequestRecord[] = [];
  const waiting: Array<() => void> = [];
  record.onRequest((r) => {
    records.push(r);
    waiting.shift()?.();
  });
  const next = () => new Promise<void>((resolve) => waiting.push(resolve));
  served = await serve((req, res) => {
    record(res);
    handler(req, res);
  });
  return { record, records, next, collector, port: served.port };
}

describe('requestRecorder', () => {
  it('records a request once, however many middlewares start it, with its status and outcome', async () => {
    const { record, records, next, collector, port } = await recorded((req, res) => {
      record(res);
      record(res);
      res.statusCode = req.url === '/missing' ? 404 : 200;
      res.end();
    });
    let recordedOne = next();
    await send(port, { method: 'POST', path: '/ok' });
    await recordedOne;
    recordedOne = next();
    await send(port, { path: '/missing' });
    await recordedOne;
    expect(records.map(({ method, status, outcome }) => ({ method, status, outcome }))).toEqual([
      { method: 'POST', status: 200, outcome: 'ok' },
      { method: 'GET', status: 404, outcome: 'ok' },
    ]);
    expect(collector.snapshot()).toMatchObject({ calls: 2, ok: 2, failed: 0 });
  });

  it('records a request into each recorder once when several recorders start it', async () => {
    const other = requestRecorder({ collector: metrics({ clock: new FakeClock() }) });
    const seen: number[] = [];
    other.onRequest((r) => seen.push(r.status));
    const { record, records, next, port } = await recorded((_req, res) => {
      other(res);
      record(res);
      other(res);
      res.end();
    });
    const recordedOne = next();
    await send(port);
    await recordedOne;
    expect([records.length, seen]).toEqual([1, [200]]);
  });

  it('records a 5xx as a failure with the error the error handler gave', async () => {
    const boom = Object.assign(new Error('db down'), { code: 'ECONNREFUSED' });
    const { records, next, collector, port } = await recorded((_req, res) => {
      setResponseError(res, boom);
      res.statusCode = 503;
      res.end();
    });
    const recordedOne = next();
    await send(port);
    await recordedOne;
    expect(records).toEqual([expect.objectContaining({ status: 503, outcome: 'failed', error: boom })]);
    expect(collector.snapshot()).toMatchObject({ calls: 1, failed: 1, errorsByCategory: { network: 1 } });
  });

  it('records a client that disconnected as cancelled (499), never as a call or a failure', async () => {
    const received = deferred();
    const { records, next, collector, port } = await recorded((req) => {
      req.resume();
      req.on('end', () => received.resolve());
    });
    const recordedOne = next();
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', agent: false });
    req.on('error', () => {});
    req.end('hello');
    await received.promise;
    req.destroy();
    await recordedOne;
    expect(records).toEqual([
      expect.objectContaining({ status: 499, outcome: 'cancelled', error: expect.any(ClientDisconnectedError) }),
    ]);
    const snapshot = collector.snapshot();
    expect(snapshot).toMatchObject({ calls: 0, failed: 0, errorRate: 0, errors: 1 });
    expect(snapshot.errorsByCategory.cancelled).toBe(1);
  });

  it('measures latency on its clock, from its call to the response close', async () => {
    const clock = new FakeClock(1_000);
    const record = requestRecorder({ clock });
    const latencies: number[] = [];
    const seen = deferred();
    record.onRequest((r) => {
      latencies.push(r.latencyMs);
      seen.resolve();
    });
    const started = deferred<http.ServerResponse>();
    served = await serve((_req, res) => {
      record(res);
      started.resolve(res);
    });
    const reply = send(served.port);
    const res = await started.promise;
    await clock.advance(250);
    res.end();
    await reply;
    await seen.promise;
    expect(latencies).toEqual([250]);
  });

  it('rejects bad options, naming them', () => {
    const bad = () => requestRecorder({ collector: {} as never, clock: 'now' as never });
    expect(bad).toThrow(/collector[\s\S]*clock/);
    try {
      bad();
    } catch (error) {
      expect(isConfigurationError(error)).toBe(true);
    }
  });
});

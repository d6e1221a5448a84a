import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { backoff } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { withResilience } from '@resilience/fetch';
import { afterEach, describe, expect, it } from 'vitest';
import { instrument } from './instrument.js';
import { sdk, valueAt } from './sdk.fixture.js';

/** A real server on 127.0.0.1 answering each request with the next status of `statuses` (the last repeats). */
async function server(...statuses: number[]): Promise<{ url: string; host: string; close: () => Promise<void> }> {
  let i = 0;
  const s: Server = createServer((_req, res) => {
    res.writeHead(statuses[Math.min(i++, statuses.length - 1)]!, { 'content-type': 'text/plain' });
    res.end('done');
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  };
}

/** Resolves once `condition` holds, checking once per turn of the event loop (real I/O in between). */
async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn >= 100_000) throw new Error('gave up waiting');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const servers: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe('instrument(client): a resilient client’s hosts', () => {
  it('reports attempts and retries per host as resilience.host, counting on when a host is evicted and met again', async () => {
    const a = await server(503, 200);
    const b = await server(200);
    servers.push(a, b);
    const otel = sdk();
    // The retry's backoff waits on a fake clock, moved by the test: no real timer runs.
    const clock = new FakeClock();
    const api = withResilience(fetch, { retry: { backoff: backoff.constant(100) }, metrics: true, maxHosts: 1, clock });
    instrument(api.client, { name: 'api', meterProvider: otel.meterProvider });

    const pending = api(`${a.url}/x`);
    await until(() => clock.pendingTimers > 0); // the 503 came: the retry waits
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    const ok = (host: string) => ({
      'resilience.policy.name': 'api',
      'resilience.host': host,
      'resilience.outcome': 'success',
    });
    let attempts = await otel.points('resilience.attempts');
    expect(valueAt(attempts, ok(a.host))).toBe(1);
    expect(valueAt(attempts, { 'resilience.host': a.host, 'resilience.outcome': 'failure' })).toBe(1);
    // The status the attempt failed on, as OpenTelemetry's HTTP conventions give it, not the class of every status.
    expect(attempts.find((p) => p.attributes['resilience.outcome'] === 'failure')?.attributes['error.type']).toBe(
      '503',
    );
    expect(valueAt(await otel.points('resilience.retries'), { 'resilience.host': a.host })).toBe(1);

    await (await api(`${b.url}/x`)).text(); // evicts a (maxHosts: 1)
    await (await api(`${a.url}/x`)).text(); // a again, with new policies
    expect(api.client.host(a.host)?.metrics?.snapshot().lifetime.ok).toBe(1);
    attempts = await otel.points('resilience.attempts');
    expect(valueAt(attempts, ok(a.host))).toBe(2);
    expect(valueAt(attempts, ok(b.host))).toBe(1);
  });

  it('gives a refused connection the error.type ECONNREFUSED, the code under Node fetch’s TypeError', async () => {
    // A port that was just free: nothing listens on it.
    const closed = await server(200);
    await closed.close();
    const otel = sdk();
    const api = withResilience(fetch, { retry: { maxAttempts: 1 } });
    instrument(api.client, { name: 'api', meterProvider: otel.meterProvider });
    const error = await api(`${closed.url}/x`).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TypeError', cause: { code: 'ECONNREFUSED' } });
    const [attempt] = await otel.points('resilience.attempts');
    expect(attempt?.attributes).toMatchObject({ 'resilience.outcome': 'failure', 'error.type': 'ECONNREFUSED' });
  });

  it('reports the first 32 hosts as themselves and later ones as _OTHER', async () => {
    const a = await server(200);
    servers.push(a);
    const otel = sdk();
    const api = withResilience(fetch, { key: (request) => new URL(request.url).pathname.slice(1) });
    instrument(api.client, { name: 'api', meterProvider: otel.meterProvider });
    for (let i = 0; i < 34; i++) await (await api(`${a.url}/key-${i}`)).text();
    const hosts = new Set((await otel.points('resilience.attempts')).map((p) => p.attributes['resilience.host']));
    expect(hosts.size).toBe(33);
    expect(hosts.has('key-31')).toBe(true);
    expect(hosts.has('key-32')).toBe(false);
    expect(valueAt(await otel.points('resilience.attempts'), { 'resilience.host': '_OTHER' })).toBe(2);
  });
});

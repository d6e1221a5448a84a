// The fault-injecting provider against requests no demo API sends: it must answer them, not
// take the whole demo down.
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Provider } from './provider.js';
import { raw } from './raw-request.test-kit.js';
import { schedule } from './schedule.js';

let provider: Provider | undefined;
afterEach(async () => {
  await provider?.close();
  provider = undefined;
});

describe('the provider', () => {
  it('answers a request target that is no URL with a 404 and keeps serving', async () => {
    provider = new Provider({ phases: schedule(1, 60_000), seed: 1, clock: new FakeClock() });
    const url = await provider.listen();
    expect(await raw(url, 'GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toBe(
      'HTTP/1.1 404 Not Found',
    );
    expect((await fetch(`${url}/v1/quote?x=1`)).status).toBe(200);
  });

  it('refuses a body larger than any order with a 413 instead of holding it', async () => {
    provider = new Provider({ phases: schedule(1, 60_000), seed: 1, clock: new FakeClock() });
    const url = await provider.listen();
    const body = JSON.stringify({ orderId: 'o-1', pad: 'x'.repeat(1024 * 1024) });
    const response = await fetch(`${url}/v1/reservations`, { method: 'POST', body });
    expect(response.status).toBe(413);
    expect((await fetch(`${url}/v1/reservations`, { method: 'POST', body: '{"orderId":"o-2"}' })).status).toBe(201);
  });

  it("counts the run's calls and faults from start(), not the warm-up's before it", async () => {
    const clock = new FakeClock();
    const phases = schedule(1, 60_000);
    provider = new Provider({ phases, seed: 1, clock });
    const url = await provider.listen();
    for (let i = 0; i < 3; i++)
      await (await fetch(`${url}/v1/quote`, { headers: { 'x-request-id': 'warm-up' } })).text();
    expect(provider.calls).toBe(3);
    provider.start();
    expect([provider.calls, provider.injected, provider.injectedIn]).toEqual([0, 0, {}]);
    // In the outage every answer is a fault, counted under its phase.
    await clock.advance(phases.find((p) => p.name === 'outage')!.startMs);
    expect((await fetch(`${url}/v1/quote`, { headers: { 'x-request-id': 'req-1' } })).status).toBe(503);
    expect([provider.calls, provider.injected, provider.injectedIn]).toEqual([1, 1, { outage: 1 }]);
    expect(provider.faultsOf('req-1')).toEqual(['outage']);
  });
});

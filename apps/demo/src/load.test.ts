// The load generator on a FakeClock, its APIs answering after a delay: what it sends.
import { FakeClock } from '@resilience/core/testing';
import { describe, expect, it } from 'vitest';
import { LoadGenerator } from './load.js';
import { DECLINED_CARD } from './provider.js';
import { schedule } from './schedule.js';
import { API_NAMES, type ApiName, type DemoRequest, type Send } from './targets.js';

/** The requests a 12 s run sends (replays left out), each API's answers taking `latencyMs`. */
async function sent(seed: number, latencyMs: (api: ApiName, n: number) => number) {
  const clock = new FakeClock();
  const requests: string[] = [];
  const seen = new Set<string>();
  const isReplay = (request: Extract<DemoRequest, { kind: 'order' }>) => {
    const again = seen.has(request.idempotencyKey);
    seen.add(request.idempotencyKey);
    return again;
  };
  const api =
    (name: ApiName): Send =>
    async (request: DemoRequest) => {
      if (request.kind === 'quote') requests.push(`${name} quote`);
      else if (!isReplay(request)) requests.push(`${name} order ${request.order.card}`);
      await clock.sleep(latencyMs(name, requests.length));
      if (request.kind === 'quote') return { status: 200, body: { price: 1 }, replayed: false };
      const declined = request.order.card === DECLINED_CARD;
      return { status: declined ? 402 : 201, body: { orderId: request.order.orderId }, replayed: false };
    };
  const load = new LoadGenerator({
    apis: Object.fromEntries(API_NAMES.map((name) => [name, api(name)])) as Record<ApiName, Send>,
    phases: schedule(seed, 12_000),
    durationMs: 12_000,
    ratePerApi: 3,
    noisyPerApi: 3,
    seed,
    clock,
  });
  let done = false;
  const run = load.run().finally(() => (done = true));
  while (!done) await clock.advance(50);
  await run;
  return requests;
}

describe('the load generator', () => {
  // Which orders a run sends, and which of them are paid with the declined card, decide the
  // saga's target (a declined card) and the replay target in a short run. They came from the
  // stream the replay decisions also drew from, as answers arrived: how fast the machine
  // answered changed which cards a seed declined (seed 7's 12 s runs declined none in 2 of 9).
  it('sends the same requests for a seed however fast or in whatever order the APIs answer', async () => {
    const quick = await sent(7, () => 10);
    const slow = await sent(7, (api, n) => (api === 'koa' ? 900 : 40 + ((n * 37) % 400)));
    expect(slow).toEqual(quick);
    expect(quick.some((r) => r.endsWith(DECLINED_CARD))).toBe(true);
  });
});

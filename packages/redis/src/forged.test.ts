// What reaches a store from outside its own scripts: a message on a breaker's channel that no
// instance of the toolkit sent (another client with write access, an older or buggy instance).
import { type BreakerEvent, circuitBreaker, consecutive } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { useServer } from './testing/fixture.js';
import { redisStore } from './testing/untimed.js';

const fixture = useServer();
const clients: Redis[] = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
});
const ioredis = () => {
  const client = new Redis({ port: fixture.server.port, host: '127.0.0.1' });
  clients.push(client);
  return client;
};

/** A synchronised breaker listening on its channel, and a way to know a message reached it. */
async function listening(name: string, clock = new FakeClock()) {
  const subscriber = ioredis();
  const breaker = circuitBreaker({
    store: redisStore({ client: ioredis(), subscriber }),
    name,
    strategy: consecutive(2),
    halfOpenAfter: 1_000,
    sync: { syncMs: 60_000 },
    clock,
    registry: false,
  });
  const changes: string[] = [];
  breaker.on('state_change', (e: BreakerEvent) => {
    if (e.type === 'state_change') changes.push(e.to);
  });
  await breaker.execute(() => 'first read');
  // Its success merged: no step is due on a timer, so the next step is the one a call makes
  // once the view is syncMs old (a timer's step in flight would race the assertions below).
  await breaker.sync();
  expect(clock.pendingTimers).toBe(0);
  const channel = `resilience:{breaker|${name}}`;
  while (Number(((await fixture.client.pubsub('NUMSUB', channel)) as unknown[])[1]) < 1);
  /** Publishes each message, then waits until the subscriber has handed every one to the breaker. */
  const publish = async (...messages: string[]) => {
    for (const m of messages) await fixture.client.publish(channel, m);
    await subscriber.ping(); // answered after every message sent to it before
  };
  return { breaker, changes, publish, clock };
}

describe("a breaker's channel", () => {
  it('ignores announcements no instance sends: unknown states, wrong types, rounds that are not integers, huge payloads', async () => {
    const { breaker, changes, publish } = await listening('forged-shapes');
    await publish(
      JSON.stringify({ r: 1e6, s: 'bogus', a: 0 }),
      JSON.stringify({ r: 1e6, s: 'half-open', a: 0 }), // never announced: the store leases probes
      JSON.stringify({ r: 1e6, s: 'open', a: 'soon' }), // an open state with no delay: open for good
      JSON.stringify({ r: 1e6, s: 'open', a: -5 }),
      JSON.stringify({ r: 1e6, s: 'open' }),
      '{"r":1000000,"s":"open","a":1e999}', // Infinity to JSON.parse: open for good
      JSON.stringify({ r: 1e300, s: 'open', a: 1_000 }),
      JSON.stringify({ r: 1.5, s: 'open', a: 1_000 }),
      JSON.stringify({ r: 1e6, s: 'closed', a: 0, pad: 'x'.repeat(1_000_000) }),
      JSON.stringify([1e6, 'open', 1_000]),
      'null',
      'open',
    );
    expect(changes).toEqual([]);
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(() => 'runs')).resolves.toBe('runs');
    breaker.dispose();
  });

  it('takes a well-formed announcement, and reads the shared state again within syncMs of its last step', async () => {
    const { breaker, changes, publish, clock } = await listening('forged-isolation');
    await publish(JSON.stringify({ r: Number.MAX_SAFE_INTEGER, s: 'isolated', a: null }));
    expect(breaker.state).toBe('isolated'); // as a real isolation would be: it cannot be told apart
    await expect(breaker.execute(() => 'not run')).rejects.toMatchObject({ code: 'circuit_isolated' });
    await clock.advance(60_000);
    await expect(breaker.execute(() => 'runs')).resolves.toBe('runs'); // the store says closed
    expect(changes).toEqual(['isolated', 'closed']);
    breaker.dispose();
  });
});

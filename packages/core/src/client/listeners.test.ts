// Event listeners of a resilient client hold nothing that a caller cycling hosts or
// subscribing again and again would grow without bound.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { BrokenCircuitError } from '../errors/errors.js';
import { call, script, transport } from '../testing/client-kit.js';
import { resilientClient } from './client.js';
import type { HttpStatusError } from './http-status-error.js';

/** Collects garbage until `ref` is collected or five rounds passed (WeakRef targets live until the job ends). */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await tick();
    gc();
    await tick();
  }
  return ref.deref() === undefined;
}

describe('resilientClient event listeners', () => {
  it('keep no evicted host alive: a client listening to its events cycles through hosts in bounded memory', async () => {
    const c = resilientClient({ clock: new FakeClock(), maxHosts: 2, breaker: {} }, transport);
    const stop = c.onEvent(() => {});
    const send = script(200).send;
    await c.request(call('GET', 'https://first.test/'), send);
    const evicted = new WeakRef(c.host('first.test')!.breaker!);
    for (let i = 0; i < 3; i++) await c.request(call('GET', `https://h${i}.test/`), send);
    expect(c.hosts()).toEqual(['h1.test', 'h2.test']);
    expect(await collected(evicted)).toBe(true);
    stop();
  });

  it('leave nothing behind once unsubscribed, however often a caller subscribes', async () => {
    const c = resilientClient({ clock: new FakeClock() }, transport);
    await c.request(call('GET', 'https://a.test/'), script(200).send);
    const host = c.host('a.test')!;
    // Subscribed in a function of its own, so no register of the test's frame keeps the listener.
    const subscribeAndLeave = () => {
      const listener = () => {};
      c.onEvent(listener)();
      host.onEvent(listener)();
      return new WeakRef(listener);
    };
    expect(await collected(subscribeAndLeave())).toBe(true);
  });
});

describe('resilientClient breaker', () => {
  it('keeps no response of a request that settled, nor the failure that opened it once closed again', async () => {
    const clock = new FakeClock();
    const c = resilientClient(
      { clock, retry: { maxAttempts: 2 }, breaker: { strategy: consecutive(2), halfOpenAfter: 1_000 } },
      transport,
    );
    const failing = script(503);
    // A function of its own, so no register of the test's frame keeps a response.
    const sendAndDrop = async () => {
      let done = false;
      const pending = c.request(call('GET', 'https://a.test/'), failing.send).finally(() => (done = true));
      while (!done) await clock.runAll();
      await pending;
      return failing.responses.splice(0).map((r) => new WeakRef(r));
    };
    const responses = await sendAndDrop(); // the retried 503 (released) and the last one (the caller's)
    const rejectAndDrop = async () => {
      const rejected = await c.request(call('GET', 'https://a.test/'), failing.send).catch((e: unknown) => e);
      expect(rejected).toBeInstanceOf(BrokenCircuitError);
      const cause = (rejected as BrokenCircuitError).cause as HttpStatusError;
      expect([cause.status, cause.response]).toEqual([503, undefined]); // before, the 503 itself
      return new WeakRef(cause);
    };
    const opened = await rejectAndDrop();
    for (const response of responses) expect(await collected(response)).toBe(true);
    await clock.advance(1_000);
    await c.request(call('GET', 'https://a.test/'), script(200).send);
    expect(c.host('a.test')!.breaker!.state).toBe('closed');
    expect(await collected(opened)).toBe(true); // before, kept by the breaker's rejections for good
  });
});

// Event listeners of a resilient client hold nothing that a caller cycling hosts or
// subscribing again and again would grow without bound.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { call, script, transport } from '../testing/client-kit.js';
import { resilientClient } from './client.js';

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

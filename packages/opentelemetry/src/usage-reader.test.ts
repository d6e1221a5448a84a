import { systemClock } from '@resilience/core';
import { expect, it } from 'vitest';
import { boundedUsage } from './usage-reader.js';

it('keeps no process alive while it waits on a hung usage(): its timeoutMs timer is unref’d', async () => {
  let settle: (usage: { used: number; limit: number }) => void = () => {};
  const read = boundedUsage(() => new Promise((resolve) => (settle = resolve)), 600_000, systemClock);
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const reading = read();
  await new Promise((resolve) => setImmediate(resolve));
  // A process whose work is done exits now, not ten minutes later when the collection gives up.
  expect(timers()).toBe(before);
  settle({ used: 1, limit: 2 });
  expect(await reading).toEqual({ used: 1, limit: 2 });
});

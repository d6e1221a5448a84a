// The memory bound docs/metrics.md gives recentErrors must hold for the worst entry an
// attacker or a hostile upstream can make: every field at its cut (a message quoting a
// payload, an API error's code from a response body). A cut text ends in `…`, which is not
// Latin-1: V8 then stores every character of it in two bytes, ASCII ones included.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { recentErrors } from './recent-errors.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

it('holds each entry, every field at its cut, in the bytes docs/metrics.md gives', () => {
  const page = readFileSync(new URL('../../../../docs/metrics.md', import.meta.url), 'utf8');
  const stated = /`max × \(maxMessageLength × 2 \+ ([\d ]+)\)` bytes at worst/.exec(page)?.[1];
  expect(stated, 'docs/metrics.md gives recentErrors a bound').toBeDefined();
  const max = 5_000;
  const before = heap();
  const errors = recentErrors({ max, clock: new FakeClock() });
  for (let i = 0; i < 2 * max; i++) {
    const error = Object.assign(new Error(`${i}`.padEnd(2_000, 'm')), { code: `${i}`.padEnd(300, 'c') });
    error.name = `${i}`.padEnd(300, 'n');
    errors.record(error, { correlationId: `${i}`.padEnd(300, 'i'), route: `${i}`.padEnd(300, 'r'), status: 500 });
  }
  const perEntry = (heap() - before) / max;
  expect(errors.size).toBe(max); // held until measured
  expect(perEntry).toBeGreaterThan(1_000); // the measurement sees the entries
  expect(perEntry).toBeLessThanOrEqual(500 * 2 + Number(stated!.replace(/ /g, '')));
});

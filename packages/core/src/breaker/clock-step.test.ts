import { describe, expect, it } from 'vitest';
import { isBrokenCircuitError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import { steppingClock } from '../testing/stepping-clock.js';
import { storeOver } from '../testing/store-over.js';
import { circuitBreaker } from './breaker.js';
import { consecutive } from './strategy.js';

const HOUR = 3_600_000;
const boom = () => Promise.reject(new Error('HTTP 503'));
const ok = () => 'ok';
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ran',
    (error: unknown) => (isBrokenCircuitError(error) ? 'rejected' : 'failed'),
  );

// A wall clock stepped back (an NTP correction, a VM resumed) must not hold a breaker open
// for the step as well as its delay: the provider recovered, the callers would still fail fast.
describe('a breaker whose clock steps back', () => {
  it('probes once its delay has passed, not an hour later', async () => {
    const { clock, advance, step } = steppingClock();
    const breaker = circuitBreaker({ strategy: consecutive(1), halfOpenAfter: 1_000, clock, registry: false });
    expect(await outcome(breaker.execute(boom))).toBe('failed');
    expect(breaker.state).toBe('open');
    step(-HOUR);
    expect(breaker.retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(await outcome(breaker.execute(ok))).toBe('rejected'); // never earlier than the delay
    await advance(1_000);
    expect(await outcome(breaker.execute(ok))).toBe('ran');
    expect(breaker.state).toBe('closed');
  });

  it('ends a probe round that ran out after its delay, not an hour later', async () => {
    const { clock, advance, step } = steppingClock();
    const breaker = circuitBreaker({ strategy: consecutive(1), halfOpenAfter: 1_000, clock, registry: false });
    await outcome(breaker.execute(boom));
    await advance(1_000);
    void breaker.execute(() => new Promise(() => {})); // a probe that never answers
    step(-HOUR);
    expect(breaker.state).toBe('half-open'); // read by a call right after the step
    await advance(1_000);
    expect(breaker.state).toBe('open'); // the round ran out: open again, and probe after the next delay
  });

  it('synchronised over a store: an open instance probes after the delay, and re-reads the fleet within syncMs', async () => {
    const { clock, advance, step } = steppingClock();
    const base = memoryStore();
    let steps = 0;
    const store = storeOver(base, {
      apply: (key, t, input, now) => {
        steps++;
        return base.apply(key, t, input, now);
      },
      applyAll: (ops, now) => {
        steps++;
        return base.applyAll(ops, now);
      },
    });
    const make = () =>
      circuitBreaker({
        store,
        name: 'payments',
        strategy: consecutive(1),
        halfOpenAfter: 1_000,
        clock,
        registry: false,
      });
    const a = make();
    expect(a.synchronised).toBe(true);
    expect(await outcome(a.execute(boom))).toBe('failed');
    await advance(0);
    expect(a.state).toBe('open');
    step(-HOUR);
    expect(await outcome(a.execute(ok))).toBe('rejected'); // a call right after the step
    await advance(1_000);
    expect(await outcome(a.execute(ok))).toBe('ran');
    expect(a.state).toBe('closed');
    const before = steps;
    step(-HOUR);
    await advance(1_000);
    await a.execute(ok);
    expect(steps).toBeGreaterThan(before); // the fleet's state was read again
  });
});

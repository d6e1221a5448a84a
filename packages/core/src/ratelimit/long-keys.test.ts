import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { StoreUnavailableError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import { storeOver } from '../testing/store-over.js';
import { fitKey } from './algorithm.js';
import { rateLimiter } from './limiter.js';
import { fixedWindow } from './windows.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

// A key taken from a request (a bearer token, an API-key header) can be as long as the
// server's header limit (16 KB in Node): an attacker sending fresh ones would make each of
// the store's 100 000 keys that big (1.6 GB). Every key must cost what a short one costs.
const long = (fill: string, tail = '') => `Bearer ${fill.repeat(16_000)}${tail}`;

describe('a rate limit keyed by a long value (a token, a header)', () => {
  it('stores a short key for it, whatever its length, and only for long ones', async () => {
    const seen: string[] = [];
    const base = memoryStore();
    const store = storeOver(base, {
      apply: (key, t, input, now) => {
        seen.push(key);
        return base.apply(key, t, input, now);
      },
    });
    const limiter = rateLimiter({
      algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
      store,
      clock: new FakeClock(),
    });
    await limiter.consume(long('a'));
    await limiter.consume('10.0.0.1');
    expect(seen[0]!.length).toBeLessThan(120);
    expect(seen[1]).toContain('10.0.0.1');
    expect(fitKey('x'.repeat(256))).toBe('x'.repeat(256));
    expect(fitKey('x'.repeat(257)).length).toBeLessThan(90);
  });

  it('still counts each long key on its own: the same one together, two that differ only at the end apart', () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }), clock: new FakeClock() });
    const one = long('a', '1');
    const two = long('a', '2');
    expect(
      [limiter.consumeSync(one), limiter.consumeSync(one), limiter.consumeSync(one)].map((d) => d.allowed),
    ).toEqual([true, true, false]);
    expect(limiter.consumeSync(two).allowed).toBe(true);
    expect(limiter.peekSync(one).allowed).toBe(false);
  });

  it('resets and waits on a long key as it counts it', async () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), clock: new FakeClock() });
    const key = long('b');
    expect((await limiter.consume(key)).allowed).toBe(true);
    expect((await limiter.peek(key)).allowed).toBe(false);
    await expect(limiter.wait(key, { maxWaitMs: 0 })).rejects.toThrow();
    await limiter.reset(key);
    expect((await limiter.consume(key)).allowed).toBe(true);
  });

  it('reports a denial under the key it was given, over one algorithm or several', async () => {
    const window = () => fixedWindow({ limit: 1, windowMs: 60_000 });
    const key = long('c');
    for (const algorithm of [window(), [window(), window()]]) {
      const limiter = rateLimiter({ algorithm, clock: new FakeClock() });
      const reported: string[] = [];
      limiter.onEvent((e) => reported.push(e.key));
      await limiter.consume(key);
      await limiter.consume(key);
      expect(reported).toEqual([key]);
    }
  });

  it('reports a store failure under the key it was given', async () => {
    const down = () => Promise.reject(new StoreUnavailableError('down'));
    const key = long('d');
    for (const step of ['consume', 'peek'] as const) {
      const store = storeOver(memoryStore(), { apply: down, applyAll: down });
      const limiter = rateLimiter({
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        store,
        clock: new FakeClock(),
      });
      const reported: string[] = [];
      limiter.onEvent((e) => reported.push(e.key));
      await limiter[step](key);
      expect(reported).toEqual([key]);
    }
  });

  it('reports a store failure under the key it was given when waiting, alone or as a pipeline policy', async () => {
    const down = () => Promise.reject(new StoreUnavailableError('down'));
    const key = long('e');
    const store = storeOver(memoryStore(), { apply: down, applyAll: down });
    for (const algorithm of [
      fixedWindow({ limit: 1, windowMs: 60_000 }),
      [fixedWindow({ limit: 1, windowMs: 60_000 })],
    ]) {
      const clock = new FakeClock();
      const limiter = rateLimiter({ algorithm, store, clock, onStoreError: 'open' });
      const reported: string[] = [];
      limiter.onEvent((e) => reported.push(`${e.type} ${e.key}`));
      expect((await limiter.wait(key)).allowed).toBe(true);
      await clock.advance(60_000); // store errors are reported at most once a minute
      expect(await limiter.policy({ key }).execute(() => 'ran')).toBe('ran');
      expect(reported).toEqual([`store_error ${key}`, `store_error ${key}`]);
    }
  });

  // A key up to 256 characters is kept whole: an attacker filling a header just short of the
  // cut makes each key cost its characters on top of a short key's slot. The docs must give
  // that worst case, not only a short key's 127 bytes, or `maxKeys` gives no memory bound.
  it('costs at most the bytes per key the docs give for the longest key kept whole', () => {
    const page = readFileSync(new URL('../../../../docs/rate-limiting.md', import.meta.url), 'utf8');
    const memory = page.slice(page.indexOf('## Memory'));
    const stated = /kept whole[\s\S]*?at most ([\d ]+) bytes/.exec(memory)?.[1];
    expect(stated, 'docs/rate-limiting.md#memory gives the cost of a 256-character key').toBeDefined();
    const keys = 100_000; // the default maxKeys
    const store = memoryStore();
    const limiter = rateLimiter({
      algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
      store,
      clock: new FakeClock(),
    });
    const before = heap();
    // Two-byte text (outside Latin-1) of 256 characters, each key distinct: the dearest kept whole.
    for (let i = 0; i < keys; i++) limiter.consumeSync(String(i).padStart(256, 'ш'));
    const perKey = (heap() - before) / keys;
    expect(store.size).toBe(keys); // held until measured
    expect(perKey).toBeGreaterThan(400); // the measurement sees the key strings
    expect(perKey).toBeLessThanOrEqual(Number(stated!.replace(/ /g, '')));
  });
});

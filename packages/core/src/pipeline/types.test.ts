import { describe, expect, expectTypeOf, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { fallback } from '../fallback/fallback.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { timeout } from '../timeout/timeout.js';
import { pipeline } from './pipeline.js';

const failing = async (): Promise<number> => {
  throw new Error('down');
};

describe('pipeline result types', () => {
  it("carries a fallback's type through: resolves to the substitute and is typed with it", async () => {
    const policy = pipeline(fallback('cached'), retry({ maxAttempts: 1 }));
    const result = await policy.execute(failing);
    expect(result).toBe('cached');
    expectTypeOf(result).toEqualTypeOf<number | string>();
    expectTypeOf(policy.run(failing, { signal: new AbortController().signal, attempt: 1 })).resolves.toEqualTypeOf<
      number | string
    >();
    // @ts-expect-error the pipeline may resolve with the fallback's string
    const n: number = result;
    void n;
  });

  it('keeps the function’s type when no layer substitutes', async () => {
    const clock = new FakeClock();
    const policy = pipeline(retry({ maxAttempts: 2, backoff: backoff.constant(0), clock }), timeout(100, { clock }));
    expectTypeOf(await policy.execute(() => 1)).toEqualTypeOf<number>();
    expectTypeOf(policy.wrap((a: string) => a.length)).toEqualTypeOf<(a: string) => Promise<number>>();
  });

  it('unites the substitutes of several layers and of nested pipelines', async () => {
    const inner = pipeline(fallback(null), retry({ maxAttempts: 1 }));
    const outer = pipeline(fallback(false), inner);
    expectTypeOf(await inner.execute(failing)).toEqualTypeOf<number | null>();
    expectTypeOf(await outer.execute(failing)).toEqualTypeOf<number | boolean | null>();
    expect(await outer.execute(failing)).toBeNull();
  });

  it('wrap() carries the substitute too', async () => {
    const add = pipeline(fallback('n/a'), retry({ maxAttempts: 1 })).wrap((a: number, b: number) => a + b);
    expectTypeOf(add).toEqualTypeOf<(a: number, b: number) => Promise<number | string>>();
    // @ts-expect-error the wrapped function may resolve with the fallback's string
    const sum: Promise<number> = add(1, 2);
    await expect(sum).resolves.toBe(3);
  });
});

import { describe, expect, it } from 'vitest';
import { type TokenBucketState, tokenBucket } from './token-bucket.js';

describe('tokenBucket', () => {
  it('does not refill twice when a caller whose clock is behind writes the state', () => {
    // Instances sharing a store have clocks that disagree by a few ms or more.
    const bucket = tokenBucket({ capacity: 2, refillPerSecond: 1 });
    let state: TokenBucketState | undefined;
    const consumeAt = (now: number) => {
      const r = bucket.consume.apply(state, 1, now);
      if (r.write !== false) state = r.state;
      return r.output.allowed;
    };
    expect(consumeAt(1000)).toBe(true);
    expect(consumeAt(0)).toBe(true); // 1 token left; the state keeps its later time
    expect(state).toEqual({ tokens: 0, at: 1000 });
    expect(consumeAt(1000)).toBe(false);
    expect(consumeAt(2000)).toBe(true);
  });

  it('names its window: the time to refill from empty', () => {
    expect(tokenBucket({ capacity: 10, refillPerSecond: 2 }).windowMs).toBe(5_000);
    expect(tokenBucket().windowMs).toBe(60_000);
  });
});

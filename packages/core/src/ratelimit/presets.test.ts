import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { rateLimiter } from './limiter.js';
import { quotaPresets } from './presets.js';
import { tokenBucket } from './token-bucket.js';

describe('quotaPresets', () => {
  it('pins every provider quota: a token bucket of the requests a minute, refilled continuously', () => {
    expect({ ...quotaPresets }).toEqual({
      gpt4: { capacity: 60, refillPerSecond: 1 },
      gpt35: { capacity: 3_500, refillPerSecond: 3_500 / 60 },
      claude: { capacity: 50, refillPerSecond: 50 / 60 },
    });
  });

  it('limits a client to its provider quota: 50 at once, then one every 1.2 s for Claude', async () => {
    const clock = new FakeClock();
    const claude = rateLimiter({ algorithm: tokenBucket(quotaPresets.claude), clock });
    for (let i = 0; i < 50; i++) expect(claude.consumeSync('anthropic').allowed).toBe(true);
    expect(claude.consumeSync('anthropic')).toMatchObject({ allowed: false, retryAfterMs: 1_200 });
    await clock.advance(1_200);
    expect(claude.consumeSync('anthropic').allowed).toBe(true);
  });

  it('gives a fresh object on each access, to spread and override', () => {
    const burst = tokenBucket({ ...quotaPresets.gpt35, capacity: 60 });
    expect(burst.limit).toBe(60);
    (quotaPresets.gpt4 as { capacity: number }).capacity = 1;
    expect(quotaPresets.gpt4.capacity).toBe(60);
  });
});

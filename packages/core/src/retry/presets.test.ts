import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { type RetryPreset, retryPresets } from './presets.js';
import { retry } from './retry.js';

/** What a preset does: its attempts, its cap, and each retry's wait at random 0.5 and at random 0. */
function schedule(preset: RetryPreset) {
  const retries = Array.from({ length: preset.maxAttempts - 1 }, (_, i) => i + 1);
  return {
    maxAttempts: preset.maxAttempts,
    maxMs: preset.backoff.maxMs,
    atHalf: retries.map((n) => preset.backoff.delay(n, 0, () => 0.5)),
    atZero: retries.map((n) => preset.backoff.delay(n, 0, () => 0)),
  };
}

describe('retryPresets', () => {
  it('pins every preset: attempts, base, cap and full jitter', () => {
    const pinned = Object.fromEntries(Object.entries(retryPresets).map(([name, preset]) => [name, schedule(preset)]));
    expect(pinned).toEqual({
      // Aura: 4 attempts from 2 s, exponential, jittered; capped at 10× the base.
      openai: { maxAttempts: 4, maxMs: 20_000, atHalf: [1_000, 2_000, 4_000], atZero: [0, 0, 0] },
      anthropic: { maxAttempts: 4, maxMs: 20_000, atHalf: [1_000, 2_000, 4_000], atZero: [0, 0, 0] },
      // Aura: a local model answers or fails fast; 3 attempts 100 ms apart.
      ollama: { maxAttempts: 3, maxMs: 100, atHalf: [100, 100], atZero: [100, 100] },
      // Aura: 3 attempts from 1 s.
      default: { maxAttempts: 3, maxMs: 10_000, atHalf: [500, 1_000], atZero: [0, 0] },
      // CrossStack: 3 attempts from 0.5 s, at most 5 s.
      production: { maxAttempts: 3, maxMs: 5_000, atHalf: [250, 500], atZero: [0, 0] },
      // CrossStack: 5 attempts from 1 s, at most 10 s.
      expensive: { maxAttempts: 5, maxMs: 10_000, atHalf: [500, 1_000, 2_000, 4_000], atZero: [0, 0, 0, 0] },
    });
  });

  it('gives a fresh object on each access, to spread and override', () => {
    const a = retryPresets.openai;
    (a as { maxAttempts: number }).maxAttempts = 10;
    expect(retryPresets.openai.maxAttempts).toBe(4);
    expect(() => {
      (retryPresets as { openai: unknown }).openai = {};
    }).toThrow(TypeError);
  });

  it('spreads into retry(): the OpenAI preset waits 2, 4 and 8 s at most between its 4 attempts', async () => {
    const clock = new FakeClock();
    const policy = retry({ ...retryPresets.openai, clock, random: () => 0.999, handle: () => true });
    const delays: number[] = [];
    policy.onRetry((e) => delays.push(Math.round(e.delayMs)));
    const call = policy.execute(() => Promise.reject(new Error('down'))).catch((e: unknown) => e);
    await clock.runAll();
    expect(await call).toMatchObject({ attempts: 4 });
    expect(delays).toEqual([1_998, 3_996, 7_992]);
  });
});

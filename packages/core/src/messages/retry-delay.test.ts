import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { backoff } from '../retry/backoff.js';
import { MESSAGE_PROCESSOR_DEFAULTS } from './options.js';
import { messageProcessor } from './processor.js';

const lost = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
const failing = (options: object = {}) =>
  messageProcessor<{ id: string }>({ handler: () => Promise.reject(lost()), deadLetter: vi.fn(), ...options });

describe('messageProcessor retry delay', () => {
  it('pins the default backoff: 1 s doubling, capped at 60 s', () => {
    expect(MESSAGE_PROCESSOR_DEFAULTS.retryBackoff).toEqual({ initialMs: 1_000, multiplier: 2, maxMs: 60_000 });
  });

  it('answers retry with a delay that doubles from 1 s with each failed attempt of the message, up to the cap', async () => {
    const p = failing({ maxAttempts: 10 });
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      const result = await p.process({ id: 'm1' });
      if (result.outcome === 'retry') delays.push(result.retryDelayMs);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    // Another message starts again from the first delay.
    expect(await p.process({ id: 'm2' })).toEqual({ outcome: 'retry', retryDelayMs: 1_000 });
  });

  it('takes retryBackoff, drawing jitter from the random option', async () => {
    const p = failing({
      maxAttempts: 5,
      retryBackoff: backoff.exponential({ initialMs: 200, maxMs: 1_000, jitter: 'full' }),
      random: () => 0.5,
    });
    const delays = [];
    for (let i = 0; i < 4; i++) delays.push(await p.process({ id: 'm1' }));
    expect(delays).toEqual([
      { outcome: 'retry', retryDelayMs: 100 },
      { outcome: 'retry', retryDelayMs: 200 },
      { outcome: 'retry', retryDelayMs: 400 },
      { outcome: 'retry', retryDelayMs: 500 },
    ]);
  });

  it('answers done and dead_lettered without a delay', async () => {
    const ok = messageProcessor<{ id: string }>({ handler: () => 1, deadLetter: vi.fn() });
    expect(await ok.process({ id: 'a' })).toEqual({ outcome: 'done' });
    expect(await failing({ maxAttempts: 1 }).process({ id: 'a' })).toEqual({ outcome: 'dead_lettered' });
  });

  it('suggests a delay to a delivery told to wait while another one dead-letters the message', async () => {
    const clock = new FakeClock();
    let release!: () => void;
    const p = failing({ maxAttempts: 1, deadLetter: () => new Promise<void>((r) => (release = r)), clock });
    const first = p.process({ id: 'm1' });
    await vi.waitFor(() => expect(release).toBeDefined());
    expect(await p.process({ id: 'm1' })).toEqual({ outcome: 'retry', retryDelayMs: 1_000 });
    release();
    expect(await first).toEqual({ outcome: 'dead_lettered' });
  });

  it('rejects a retryBackoff that is not one, or whose delays reach retryTtlMs (the counter would expire first)', () => {
    const attempt = (options: object) => () => failing(options);
    expect(attempt({ retryBackoff: { delay: 1 } })).toThrow(ConfigurationError);
    expect(attempt({ retryBackoff: backoff.constant(4_000), retryTtlMs: 4_000 })).toThrow(
      /retryBackoff.*below retryTtlMs \(4000\)/,
    );
    expect(attempt({ retryBackoff: backoff.linear(1_000) })).toThrow(/retryBackoff/);
    expect(attempt({ random: 0.5 })).toThrow(/random/);
  });

  it('caps the default delays at half of a retryTtlMs below 2 minutes', async () => {
    const p = failing({ maxAttempts: 10, retryTtlMs: 10_000 });
    const delays = [];
    for (let i = 0; i < 5; i++) delays.push(await p.process({ id: 'm1' }));
    expect(delays.map((d) => d.outcome === 'retry' && d.retryDelayMs)).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
  });
});

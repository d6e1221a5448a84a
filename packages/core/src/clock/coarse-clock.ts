import { OptionsValidator } from '../errors/validate.js';
import { type Clock, systemClock, type TimerHandle } from './clock.js';

/**
 * A clock whose `now()` is a cached reading of another, refreshed every `resolutionMs` while read:
 * never ahead, never keeping a process alive.
 */
export class CoarseClock implements Clock {
  readonly #base: Clock;
  readonly #resolutionMs: number;
  #now = 0;
  #ticking = false;
  #read = false;

  /** @throws ConfigurationError naming `base` (not a Clock) or `resolutionMs` (not a finite number > 0). */
  constructor(base: Clock = systemClock, resolutionMs = 1) {
    new OptionsValidator('CoarseClock').clock('base', base).number('resolutionMs', resolutionMs, { gt: 0 }).done();
    this.#base = base;
    this.#resolutionMs = resolutionMs;
  }

  now(): number {
    this.#read = true;
    if (!this.#ticking) {
      this.#now = this.#base.now();
      this.#ticking = true;
      this.#arm();
    }
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#base.sleep(ms, signal);
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.#base.setTimeout(callback, ms);
  }

  clearTimeout(handle: TimerHandle): void {
    this.#base.clearTimeout(handle);
  }

  #arm(): void {
    const handle = this.#base.setTimeout(this.#tick, this.#resolutionMs) as { unref?: () => void };
    handle.unref?.();
  }

  readonly #tick = (): void => {
    if (!this.#read) {
      this.#ticking = false;
      return;
    }
    this.#read = false;
    this.#now = this.#base.now();
    this.#arm();
  };
}

/** The system clock at 1 ms resolution: the rate limiter's default. */
export const coarseSystemClock: Clock = /* @__PURE__ */ new CoarseClock(systemClock, 1);

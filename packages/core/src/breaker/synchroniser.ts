import type { Clock, Random, TimerHandle } from '../clock/clock.js';
import type { Store, StoreChannel } from '../store/store.js';
import { storeStep } from '../store/supports.js';
import type { CallOutcome } from './machine.js';
import type { BreakerStateName } from './options.js';
import type { BreakerStrategy, BreakerWindow, BreakerWindowSnapshot } from './strategy.js';
import type { breakerSyncTransition } from './sync-transition.js';
import { Tally } from './tally.js';

/** The round of a local view that has not read the shared state yet. */
export const UNKNOWN_ROUND = -1;

/** What the synchroniser tells the breaker it serves. */
export interface SyncHost {
  /** Takes the shared state as a step or a message reported it, seen at local time `at`. */
  adopt(state: BreakerStateName, round: number, retryAfterMs: number | null, at: number): void;
  storeError(step: 'sync' | 'publish' | 'subscribe', error: unknown): void;
}

/** A state change as announced on the store's channel. */
interface Announcement {
  readonly r: number;
  readonly s: BreakerStateName;
  readonly a: number | null;
}

/**
 * The local half of a synchronised breaker: this instance's view of the shared window (as
 * last read, plus the outcomes counted since) and the tally of those outcomes, merged into
 * the store by one `breaker.<strategy>.sync` step at most every `syncMs` — at once when the
 * view trips. Each step reads the shared state back. One timer at most, armed by the first
 * outcome after a step; memory is fixed (a window and seven counters).
 */
export class Synchroniser {
  /** Calls of this instance asking the store for a probe right now. */
  probing = 0;
  readonly #host: SyncHost;
  readonly #store: Store;
  readonly #key: string;
  readonly #strategy: BreakerStrategy;
  readonly #transition: ReturnType<typeof breakerSyncTransition>;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #syncMs: number;
  readonly #channel: StoreChannel | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  #window: BreakerWindow;
  readonly #tally = new Tally();
  /** The round the tally counts for: outcomes of calls admitted in another round are stale. */
  #round = UNKNOWN_ROUND;
  /** The store's clock minus this instance's, as of the latest step (time windows bucket by it). */
  #offset = 0;
  /** Local time the latest step was sent. */
  #sentAt = Number.NEGATIVE_INFINITY;
  #flushing: Promise<void> | undefined;
  #reading: Promise<void> | undefined;
  #again = false;
  #timer: TimerHandle | undefined;
  #lastError: unknown;

  constructor(
    host: SyncHost,
    store: Store,
    key: string,
    strategy: BreakerStrategy,
    transition: ReturnType<typeof breakerSyncTransition>,
    clock: Clock,
    random: Random,
    syncMs: number,
  ) {
    this.#host = host;
    this.#store = store;
    this.#key = key;
    this.#strategy = strategy;
    this.#transition = transition;
    this.#clock = clock;
    this.#random = random;
    this.#syncMs = syncMs;
    this.#window = strategy.createWindow();
    this.#channel = store.channel;
    this.#unsubscribe = this.#channel?.subscribe(
      key,
      (message) => this.#heard(message),
      (error) => host.storeError('subscribe', error),
    );
  }

  /**
   * Counts the outcome of a call admitted while closed in `round`. Returns true when this
   * instance's view of the window trips: the outcomes go to the store at once, and the
   * breaker opens locally until the store answers.
   */
  record(outcome: CallOutcome, slow: boolean, round: number, now: number): boolean {
    if (outcome === 'ignored' || round !== this.#round) return false;
    const failed = outcome === 'failure';
    const first = this.#tally.empty;
    this.#tally.record(failed, slow);
    if (this.#window.record(failed, slow, now + this.#offset)) {
      void this.flush();
      return true;
    }
    if (first) this.#arm(now);
    return false;
  }

  /**
   * When this view is `syncMs` old (an instance that was idle: a busy one steps every
   * `syncMs`), the step that reads the shared state again, for a call to wait on; else
   * `undefined`. Calls that arrive while that read is in flight wait on it too.
   */
  stale(now: number): Promise<void> | undefined {
    if (this.#reading !== undefined) return this.#reading;
    // Either way: a clock that stepped back reads the shared state again rather than wait out the step.
    if (Math.abs(now - this.#sentAt) < this.#syncMs) return undefined;
    const reading = this.flush().then(() => {
      this.#reading = undefined;
    });
    this.#reading = reading;
    return reading;
  }

  /** Merges the tally into the store and reads the shared state back. Never rejects: a failure is reported. */
  flush(): Promise<void> {
    if (this.#flushing !== undefined) {
      this.#again = true;
      return this.#flushing;
    }
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const round = this.#round;
    const tally = this.#tally.take();
    const sentAt = this.#clock.now();
    this.#sentAt = sentAt;
    const input =
      round === UNKNOWN_ROUND ? { tally, random: this.#random() } : { tally, round, random: this.#random() };
    // An answer it cannot read (a window the strategy refuses) fails the step as the store's failure would.
    const flushing = storeStep(() =>
      this.#store.apply(this.#key, this.#transition, input, sentAt).then((out) => {
        this.#offset = out.now - sentAt;
        this.see(out.state, out.round, out.retryAfterMs, sentAt, out.window);
        if (out.changed) this.announce(out.state, out.round, out.retryAfterMs);
      }),
    ).then(
      () => {
        this.#lastError = undefined;
      },
      (error: unknown) => {
        this.#lastError = error;
        this.#host.storeError('sync', error);
      },
    );
    this.#flushing = flushing.then(() => {
      this.#flushing = undefined;
      if (this.#again) {
        this.#again = false;
        return this.flush();
      }
      if (!this.#tally.empty) this.#arm(this.#clock.now());
    });
    return this.#flushing;
  }

  /** Flushes now (after any step in flight); rejects with the store's error when the step failed. */
  async sync(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    await this.flush();
    if (this.#lastError !== undefined) throw this.#lastError;
  }

  /**
   * Takes the shared state a step reported (`window`: the shared window, when the step read
   * it). A new round drops the outcomes counted in the old one and starts from its window.
   */
  see(
    state: BreakerStateName,
    round: number,
    retryAfterMs: number | null,
    at: number,
    window?: BreakerWindowSnapshot,
  ): void {
    if (round !== this.#round) {
      // Outcomes counted before the first read belong to whatever closed round it finds.
      if (!(this.#round === UNKNOWN_ROUND && state === 'closed')) this.#tally.take();
      this.#round = round;
      if (window === undefined) this.#window = this.#strategy.createWindow(); // a new round starts empty
    }
    if (window !== undefined) {
      this.#window = this.#strategy.createWindow(window);
      const pending = this.#tally.snapshot();
      if (pending !== null && this.#window.merge(pending, this.#clock.now() + this.#offset)) this.#again = true;
    }
    this.#host.adopt(state, round, retryAfterMs, at);
  }

  /** Tells the other instances of a change this instance made (open, closed, isolated), when the store has a channel. */
  announce(state: BreakerStateName, round: number, retryAfterMs: number | null): void {
    if (this.#channel === undefined || state === 'half-open') return;
    const message: Announcement = { r: round, s: state, a: retryAfterMs };
    this.#channel
      .publish(this.#key, JSON.stringify(message))
      .catch((error: unknown) => this.#host.storeError('publish', error));
  }

  dispose(): void {
    this.#unsubscribe?.();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Another instance's announcement: taken when it is newer than this view and one `announce`
   * could have sent (anyone may PUBLISH on the channel); a forged one lasts until the next step.
   */
  #heard(message: string): void {
    let a: Announcement;
    try {
      a = message.length < 200 && JSON.parse(message);
    } catch {
      return;
    }
    const wait = a?.a;
    if (
      !Number.isSafeInteger(a?.r) ||
      a.r <= this.#round ||
      (a.s === 'isolated' ? wait !== null : !(a.s === 'open' || a.s === 'closed') || !(wait! >= 0 && wait! < Infinity))
    )
      return;
    this.see(a.s, a.r, wait, this.#clock.now());
  }

  /** Schedules the next step `syncMs` after the latest (at once when that has passed). */
  #arm(now: number): void {
    if (this.#timer !== undefined || this.#flushing !== undefined) return;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        void this.flush();
      },
      Math.max(0, Math.min(this.#syncMs, this.#sentAt + this.#syncMs - now)),
    );
  }
}

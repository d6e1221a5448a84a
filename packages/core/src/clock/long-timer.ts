/**
 * The longest delay Node's timers honour: 2^31 − 1 ms (~24.8 days). Node fires a longer
 * timer after 1 ms, so the system clock chains longer delays (see {@link LongTimer}).
 */
export const MAX_TIMER_MS = 2_147_483_647; // a literal: arithmetic at module level stays in every bundle

type NodeTimer = ReturnType<typeof setTimeout>;

interface Refable {
  ref?: () => unknown;
  unref?: () => unknown;
  hasRef?: () => boolean;
}

/**
 * A timer longer than {@link MAX_TIMER_MS}: a chain of timers of at most that length, each
 * armed when the previous fires, so the callback runs when due and never early. An infinite
 * delay never fires. Like Node's own handle it can be `unref`'d (the process may exit while
 * it waits) and `ref`'d again; the setting carries over to every link of the chain.
 */
export class LongTimer {
  readonly #callback: () => void;
  #left: number;
  #timer: NodeTimer;
  #refed = true;

  constructor(callback: () => void, ms: number) {
    this.#callback = callback;
    this.#left = ms;
    this.#timer = this.#arm();
  }

  /** Cancels the timer, whichever link of the chain is pending. */
  clear(): void {
    clearTimeout(this.#timer);
  }

  ref(): this {
    this.#refed = true;
    (this.#timer as Refable).ref?.();
    return this;
  }

  unref(): this {
    this.#refed = false;
    (this.#timer as Refable).unref?.();
    return this;
  }

  hasRef(): boolean {
    return this.#refed;
  }

  #arm(): NodeTimer {
    const step = Math.min(this.#left, MAX_TIMER_MS);
    this.#left -= step;
    const timer = setTimeout(this.#step, step);
    if (!this.#refed) (timer as Refable).unref?.();
    return timer;
  }

  readonly #step = (): void => {
    if (this.#left > 0) this.#timer = this.#arm();
    else this.#callback();
  };
}

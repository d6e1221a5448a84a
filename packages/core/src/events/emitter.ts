/** Removes a listener. Calling it twice is harmless. */
export type Disposer = () => void;

/** Subscribes a listener; returns its disposer. */
export type Subscribe<T> = (listener: (event: T) => void) => Disposer;

/**
 * A synchronous event source that costs nothing when nobody listens: producers check
 * `hasListeners` before building an event. A listener that throws is ignored so it can
 * never break the policy that reports to it.
 */
export class Emitter<T> {
  #listeners: ReadonlyArray<(event: T) => void> = [];

  get hasListeners(): boolean {
    return this.#listeners.length > 0;
  }

  readonly subscribe: Subscribe<T> = (listener) => {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  };

  emit(event: T): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A faulty listener must not change the outcome of the call it observes.
      }
    }
  }
}

/** A subscription that only passes events of one `type`. */
export function onType<E extends { type: string }, K extends E['type']>(
  subscribe: Subscribe<E>,
  type: K,
): Subscribe<Extract<E, { type: K }>> {
  return (listener) =>
    subscribe((event) => {
      if (event.type === type) listener(event as Extract<E, { type: K }>);
    });
}

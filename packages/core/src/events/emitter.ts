import { processWide } from './process-wide.js';

/** Removes a listener. Calling it twice is harmless. */
export type Disposer = () => void;

/** Subscribes a listener; returns its disposer. */
export type Subscribe<T> = (listener: (event: T) => void) => Disposer;

/** Receives the error of an event listener that threw, and the event it was given. */
export type ListenerErrorHandler = (error: unknown, event: unknown) => void;

// Kept on globalThis under a registered symbol, so a hook set through one copy of the package
// (an ESM and a CJS entry, two installed versions) hears the listeners of every copy. Made on
// first use, not at import, where it would stay in every bundle.
type Hook = { handlers: Set<ListenerErrorHandler>; warned: WeakSet<object> };
const hook = (): Hook =>
  processWide('@resilience/core:listener-errors', () => ({ handlers: new Set(), warned: new WeakSet() }));

/** The default report: one console.warn per faulty function, so a listener that throws on every call cannot flood the log. */
function warnOnce(culprit: object, error: unknown): void {
  const { warned } = hook();
  if (warned.has(culprit)) return;
  warned.add(culprit);
  const warning =
    '[@resilience/core] An event listener threw; the call it observed was not affected. Reported once per listener: subscribe with onListenerError() to see every error.';
  try {
    console.warn(warning, error);
  } catch {
    console.warn(warning); // an error that cannot be printed (its stack getter throws)
  }
}

/** Reports the error of a listener (or an alert handler) that threw: to the onListenerError handlers, or one warning. */
export function reportListenerError(listener: object, error: unknown, event: unknown): void {
  const { handlers } = hook();
  if (handlers.size === 0) {
    warnOnce(listener, error);
    return;
  }
  for (const handler of handlers) {
    try {
      handler(error, event);
    } catch (failure) {
      warnOnce(handler, failure);
    }
  }
}

/** Hears the errors event listeners and alert handlers throw (they never change a call's outcome); unheard, each gets one `console.warn`. */
export function onListenerError(handler: ListenerErrorHandler): Disposer {
  if (typeof handler !== 'function') throw new TypeError('onListenerError: expected a function');
  const own = (error: unknown, event: unknown) => handler(error, event); // one entry per subscription
  const { handlers } = hook();
  handlers.add(own);
  return () => {
    handlers.delete(own);
  };
}

// A synchronous event source that costs nothing when nobody listens: producers check
// `hasListeners` before building an event. A listener that throws (or rejects) cannot break the policy
// that reports to it: its error goes to `onListenerError`.
export class Emitter<T> {
  #listeners: ReadonlyArray<(event: T) => void> = [];

  get hasListeners(): boolean {
    return this.#listeners.length > 0;
  }

  readonly subscribe: Subscribe<T> = (listener) => {
    // Refused here: on the first event it would throw out of the policy (a timer's callback: the process).
    if (typeof listener !== 'function') throw new TypeError(`expected a function, received ${typeof listener}`);
    const own = (event: T) => listener(event); // one entry per subscription, disposed alone
    this.#listeners = [...this.#listeners, own];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== own);
    };
  };

  emit(event: T): void {
    for (const listener of this.#listeners) {
      try {
        // An async listener's rejection is its throw: reported, not left unhandled (the process's end on Node).
        const answer: unknown = listener(event);
        if (answer instanceof Promise) answer.catch((error) => reportListenerError(listener, error, event));
      } catch (error) {
        // A faulty listener must not change the outcome of the call it observes.
        reportListenerError(listener, error, event);
      }
    }
  }
}

/** A subscription that only passes events of one `type`. */
export function onType<E extends { type: string }, K extends E['type']>(
  subscribe: Subscribe<E>,
  type: K,
): Subscribe<Extract<E, { type: K }>> {
  // The listener's answer is handed on: an async one's rejection is reported.
  return (listener) =>
    subscribe((event) => (event.type === type ? listener(event as Extract<E, { type: K }>) : undefined));
}

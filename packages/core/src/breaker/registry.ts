import type { Disposer } from '../events/emitter.js';
import type { BreakerStateName } from './options.js';

/** What the registry needs from a breaker. */
export interface RegisteredBreaker {
  readonly name: string;
  readonly state: BreakerStateName;
  /** Ms until the next probe while open (0 otherwise; `Infinity` while isolated). */
  readonly retryAfterMs: number;
}

/** One row of `registry.list()`. */
export interface BreakerInfo {
  readonly name: string;
  readonly state: BreakerStateName;
  readonly retryAfterMs: number;
}

/**
 * Lists live breakers by name and state, for admin views and health checks. It holds each
 * breaker through a `WeakRef`, so listing a breaker never keeps it alive: a breaker that is
 * no longer referenced leaves the list when it is garbage-collected, or at once with
 * `breaker.dispose()`. Memory: one small entry per live breaker.
 */
export class BreakerRegistry {
  readonly #refs = new Set<WeakRef<RegisteredBreaker>>();
  readonly #finalizer = new FinalizationRegistry<WeakRef<RegisteredBreaker>>((ref) => this.#refs.delete(ref));

  /** Lists `breaker` until the returned disposer runs or the breaker is collected. */
  add(breaker: RegisteredBreaker): Disposer {
    const ref = new WeakRef(breaker);
    this.#refs.add(ref);
    this.#finalizer.register(breaker, ref, ref);
    return () => {
      if (this.#refs.delete(ref)) this.#finalizer.unregister(ref);
    };
  }

  /** The live breakers, in registration order. */
  breakers(): RegisteredBreaker[] {
    const live: RegisteredBreaker[] = [];
    for (const ref of this.#refs) {
      const breaker = ref.deref();
      if (breaker) live.push(breaker);
      else this.#refs.delete(ref);
    }
    return live;
  }

  /** Name, state and time to the next probe of every live breaker. */
  list(): BreakerInfo[] {
    return this.breakers().map((b) => ({ name: b.name, state: b.state, retryAfterMs: b.retryAfterMs }));
  }

  /** The live breakers named `name` (names need not be unique). */
  get(name: string): RegisteredBreaker[] {
    return this.breakers().filter((b) => b.name === name);
  }

  /** Number of live breakers. */
  get size(): number {
    return this.breakers().length;
  }
}

/** The registry every breaker joins unless created with `registry: false` or another registry. */
export const breakerRegistry: BreakerRegistry = /* @__PURE__ */ new BreakerRegistry();

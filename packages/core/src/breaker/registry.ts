import { type Disposer, Emitter, type Subscribe } from '../events/emitter.js';
import { processWide } from '../events/process-wide.js';
import type { BreakerStateName } from './options.js';

/** What the registry needs from a breaker. */
export interface RegisteredBreaker {
  readonly name: string;
  readonly state: BreakerStateName;
  /** Ms until the next probe while open (0 otherwise; `Infinity` while isolated). */
  readonly retryAfterMs: number;
}

/** One row of `registry.list()`: a name and the worst state of the breakers that share it. */
export interface BreakerInfo {
  readonly name: string;
  /** The worst state among the live breakers with this name (see {@link worseBreakerState}). */
  readonly state: BreakerStateName;
  /** Ms to the next probe of the breakers in that state (the longest; `Infinity` while isolated). */
  readonly retryAfterMs: number;
  /** Live breakers with this name: more than 1 means a name is shared (unnamed, re-created, per host). */
  readonly count: number;
}

const SEVERITY: Readonly<Record<string, number>> = { closed: 0, 'half-open': 1, open: 2, isolated: 3 };
const severity = (state: string) => SEVERITY[state] ?? SEVERITY.open!;

/**
 * Of two breaker states, the one to report for a name that several breakers share:
 * `isolated` > `open` > `half-open` > `closed`; a state outside these ranks as `open`.
 */
export function worseBreakerState<S extends string>(a: S, b: S): S {
  return severity(b) > severity(a) ? b : a;
}

/**
 * Lists live breakers by name and worst state, for admin views, health checks and metrics,
 * holding each through a `WeakRef` (see docs/circuit-breaker.md#registry).
 */
export class BreakerRegistry {
  readonly #refs = new Set<WeakRef<RegisteredBreaker>>();
  readonly #finalizer = new FinalizationRegistry<WeakRef<RegisteredBreaker>>((ref) => this.#refs.delete(ref));
  readonly #added = new Emitter<RegisteredBreaker>();

  /**
   * Every breaker added from now on, as it joins (what `observe(registry)` and exporters follow).
   * Returns a disposer.
   */
  readonly onAdd: Subscribe<RegisteredBreaker> = this.#added.subscribe;

  /** Lists `breaker` until the returned disposer runs or the breaker is collected. */
  add(breaker: RegisteredBreaker): Disposer {
    const ref = new WeakRef(breaker);
    this.#refs.add(ref);
    this.#finalizer.register(breaker, ref, ref);
    if (this.#added.hasListeners) this.#added.emit(breaker);
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

  /** One row per name, in order of first registration: the worst state, its time to the next probe, the count. */
  list(): BreakerInfo[] {
    const rows = new Map<string, BreakerInfo>();
    for (const b of this.breakers()) {
      const { name, state, retryAfterMs } = b;
      const row = rows.get(name);
      if (row === undefined) {
        rows.set(name, { name, state, retryAfterMs, count: 1 });
        continue;
      }
      const worst = worseBreakerState(row.state, state);
      const wait =
        row.state === state
          ? Math.max(row.retryAfterMs, retryAfterMs)
          : worst === state
            ? retryAfterMs
            : row.retryAfterMs;
      rows.set(name, { name, state: worst, retryAfterMs: wait, count: row.count + 1 });
    }
    return [...rows.values()];
  }

  /** The live breakers named `name`, each with its own state (names need not be unique). */
  get(name: string): RegisteredBreaker[] {
    return this.breakers().filter((b) => b.name === name);
  }

  /** Number of live breakers. */
  get size(): number {
    return this.breakers().length;
  }
}

// Process-wide, so a breaker built through one copy of core (the CJS entry of an ESM app,
// another installed version) is listed by every copy's registry.
/** The registry every breaker joins unless created with `registry: false` or another registry; one per process. */
export const breakerRegistry: BreakerRegistry = /* @__PURE__ */ processWide(
  '@resilience/core:breaker-registry.v1',
  () => new BreakerRegistry(),
);

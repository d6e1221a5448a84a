import { OptionsValidator } from '../errors/validate.js';
import { type Disposer, Emitter, onType } from '../events/emitter.js';
import { PolicyBase } from '../policy/policy.js';
import type { CallOutcome } from './machine.js';
import type { BreakerStateName } from './options.js';

export type BreakerEvent =
  | { type: 'state_change'; policy: string; from: BreakerStateName; to: BreakerStateName }
  | { type: 'success'; policy: string; durationMs: number }
  | { type: 'failure'; policy: string; error: unknown; durationMs: number }
  | { type: 'rejected'; policy: string; state: BreakerStateName; retryAfterMs: number }
  /** A breaker's store failed at `step` (docs/circuit-breaker.md, `circuitBreaker({ store })`). */
  | {
      type: 'store_error';
      policy: string;
      step: 'acquire' | 'settle' | 'sync' | 'publish' | 'subscribe';
      error: unknown;
    };

const TYPES: readonly BreakerEvent['type'][] = ['state_change', 'success', 'failure', 'rejected', 'store_error'];
const OPOSSUM: Record<string, string> = {
  open: 'state_change',
  close: 'state_change',
  halfOpen: 'state_change',
  reject: 'rejected',
  timeout: "timeout()'s onTimeout",
  fallback: "fallback()'s onFallback",
  semaphoreLocked: "bulkhead()'s onRejected",
};

type Listener<K extends BreakerEvent['type']> = (event: Extract<BreakerEvent, { type: K }>) => void;

// The event half both breakers share: one emitter and its typed subscriptions.
export abstract class BreakerEvents extends PolicyBase<BreakerEvent> {
  protected readonly events = new Emitter<BreakerEvent>();
  readonly onEvent = this.events.subscribe;

  // Reports a settled call (nothing for an ignored one, nor while nobody listens).
  protected emitOutcome(outcome: CallOutcome, error: unknown, durationMs: number): void {
    if (outcome === 'ignored' || !this.events.hasListeners) return;
    this.events.emit(
      outcome === 'success'
        ? { type: 'success', policy: this.name, durationMs }
        : { type: 'failure', policy: this.name, error, durationMs },
    );
  }

  /** Subscribes to one event type (`'state_change'`, `'success'`, `'failure'`, `'rejected'`, `'store_error'`). */
  on<K extends BreakerEvent['type']>(type: K, listener: Listener<K>): Disposer {
    // opossum's `on('open', …)` would wait for an event that never comes: refused, saying where it went.
    const v = new OptionsValidator('circuitBreaker.on').required('type', type);
    const theirs = Object.hasOwn(OPOSSUM, type) && OPOSSUM[type];
    (theirs
      ? v.check(false, 'type', type, `a breaker event (opossum's? here: ${theirs})`)
      : v.oneOf('type', type, TYPES)
    ).done();
    return onType(this.events.subscribe, type)(listener);
  }
  onStateChange(listener: Listener<'state_change'>): Disposer {
    return this.on('state_change', listener);
  }
  onSuccess(listener: Listener<'success'>): Disposer {
    return this.on('success', listener);
  }
  onFailure(listener: Listener<'failure'>): Disposer {
    return this.on('failure', listener);
  }
  onRejected(listener: Listener<'rejected'>): Disposer {
    return this.on('rejected', listener);
  }
}

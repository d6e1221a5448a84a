import { type Disposer, Emitter, onType } from '../events/emitter.js';
import { PolicyBase } from '../policy/policy.js';
import type { BreakerStateName } from './options.js';

export type BreakerEvent =
  | { type: 'state_change'; policy: string; from: BreakerStateName; to: BreakerStateName }
  | { type: 'success'; policy: string; durationMs: number }
  | { type: 'failure'; policy: string; error: unknown; durationMs: number }
  | { type: 'rejected'; policy: string; state: BreakerStateName; retryAfterMs: number };

type Listener<K extends BreakerEvent['type']> = (event: Extract<BreakerEvent, { type: K }>) => void;

/** The event half both breakers share: one emitter and its typed subscriptions. */
export abstract class BreakerEvents extends PolicyBase<BreakerEvent> {
  protected readonly events = new Emitter<BreakerEvent>();
  readonly onEvent = this.events.subscribe;

  /** Subscribes to one event type (`'state_change'`, `'success'`, `'failure'`, `'rejected'`). */
  on<K extends BreakerEvent['type']>(type: K, listener: Listener<K>): Disposer {
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

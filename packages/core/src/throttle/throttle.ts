import { type Clock, type Random, systemClock, systemRandom } from '../clock/clock.js';
import { isTransient } from '../errors/classify.js';
import { isOwnRejection, ThrottledError } from '../errors/errors.js';
import { handles } from '../errors/handles.js';
import { Emitter } from '../events/emitter.js';
import { type ExecuteContext, invoke, PolicyBase, type PolicyFn } from '../policy/policy.js';
import type { Transition } from '../store/store.js';
import { type AdaptiveThrottleOptions, THROTTLE_DEFAULTS, validateThrottleOptions } from './options.js';
import { type ThrottleDecision, type ThrottleInput, type ThrottleState, throttleTransition } from './state.js';

/** A request shed locally, with the probability it was subject to. */
export type ThrottleEvent = { type: 'rejected'; policy: string; reason: 'throttled'; probability: number };

/** What the throttle counted over its window. */
export interface ThrottleStats {
  /** Requests ended in the window (locally rejected ones included, none in flight). */
  readonly requests: number;
  /** Requests the dependency accepted in the window. */
  readonly accepts: number;
  /** The rejection probability the next request is subject to. */
  readonly probability: number;
}

/**
 * Client-side adaptive throttling (Google SRE): sheds requests locally, more as the dependency
 * refuses them; see {@link AdaptiveThrottleOptions}.
 */
export class AdaptiveThrottlePolicy extends PolicyBase<ThrottleEvent> {
  readonly name: string;
  readonly #transition: Transition<ThrottleState, ThrottleInput, ThrottleDecision>;
  readonly #overloaded: (error: unknown) => boolean;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #events = new Emitter<ThrottleEvent>();
  readonly onEvent = this.#events.subscribe;
  #state: ThrottleState | undefined;

  constructor(options: AdaptiveThrottleOptions = {}) {
    super();
    validateThrottleOptions(options);
    const d = THROTTLE_DEFAULTS;
    this.#transition = throttleTransition(options.k ?? d.k, options.windowMs ?? d.windowMs, options.maxRejection);
    this.#overloaded = options.overloaded ?? isTransient;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.name = options.name ?? d.name;
  }

  /** Requests, accepts and the current rejection probability. */
  get stats(): ThrottleStats {
    const { requests, accepts, probability } = this.#apply({ draw: 1 }, false);
    return { requests, accepts, probability };
  }

  /** The state, to persist or inspect (see {@link ThrottleState}). */
  snapshot(): ThrottleState | undefined {
    return this.#state;
  }

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    const decision = this.#apply({ draw: this.#random() }, true);
    if (!decision.allowed) {
      const { probability } = decision;
      if (this.#events.hasListeners)
        this.#events.emit({ type: 'rejected', policy: this.name, reason: 'throttled', probability });
      return Promise.reject(new ThrottledError(probability));
    }
    return invoke(fn, context).then(
      (value) => {
        this.#apply('accepted', true);
        return value;
      },
      (error: unknown) => {
        // An own rejection from inside (a rate limit) never reached the dependency: not counted.
        // `handles`: a test that throws (or answers anything but true) says no, and the call keeps
        // its own error; one that answers a promise fails the call (its `cause`), counting nothing.
        if (!isOwnRejection(error))
          this.#apply(handles(this.#overloaded, error, 'adaptiveThrottle', 'overloaded') ? 'failed' : 'accepted', true);
        throw error;
      },
    );
  }

  #apply(input: ThrottleInput, commit: boolean): ThrottleDecision {
    const result = this.#transition.apply(this.#state, input, this.#clock.now());
    if (commit) this.#state = result.state;
    return result.output;
  }
}

/**
 * Client-side adaptive throttling: rejects requests locally with `ThrottledError`, as `k`
 * says, before the dependency has to refuse them. See docs/client.md.
 */
export function adaptiveThrottle(options: AdaptiveThrottleOptions = {}): AdaptiveThrottlePolicy {
  return new AdaptiveThrottlePolicy(options);
}

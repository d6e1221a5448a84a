import { type Clock, type Random, systemClock, systemRandom } from '../clock/clock.js';
import { Emitter } from '../events/emitter.js';
import { type ExecuteContext, invoke, neverAborted, PolicyBase, type PolicyFn } from '../policy/policy.js';
import { type ChaosEnabled, type ChaosOptions, type ResolvedChaosOptions, resolveChaosOptions } from './options.js';

/** What chaos did to a call. */
export type ChaosEvent =
  | { type: 'latency'; policy: string; delayMs: number }
  | { type: 'fault'; policy: string; error: unknown }
  | { type: 'outcome'; policy: string };

const transientFault = () => Object.assign(new Error('chaos: injected fault'), { code: 'ECONNRESET' });

/** {@link chaos}'s policy; results are typed `T | R`, `R` the stubbed outcome's type. */
export class ChaosPolicy<R = never> extends PolicyBase<ChaosEvent, R> {
  readonly name: string;
  readonly #opts: ResolvedChaosOptions;
  /** Whether the policy can inject anything at all; `false` means every call goes straight through. */
  readonly #enabled: ChaosEnabled;
  readonly #fault: Error | ((context: ExecuteContext) => unknown);
  readonly #outcome: ChaosOptions<R>['outcome'];
  readonly #hasOutcome: boolean;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #events = new Emitter<ChaosEvent>();
  readonly onEvent = this.#events.subscribe;

  constructor(options: ChaosOptions<R> = {}) {
    super();
    this.#opts = resolveChaosOptions(options);
    const given = options ?? {};
    const { faultRate, latencyMs, latencyRate, enabled, name } = this.#opts;
    this.name = name;
    this.#enabled = (faultRate > 0 || (latencyMs > 0 && latencyRate > 0)) && enabled;
    this.#fault = given.fault ?? transientFault;
    this.#outcome = given.outcome;
    this.#hasOutcome = given.outcome !== undefined;
    this.#clock = given.clock ?? systemClock;
    this.#random = given.random ?? systemRandom;
  }

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T | R> {
    const enabled = this.#enabled;
    if (enabled === false) return invoke(fn, context);
    if (enabled !== true) {
      try {
        if (enabled(context) !== true) return invoke(fn, context); // a promise is no `true`
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const { latencyMs, latencyRate } = this.#opts;
    if (latencyMs > 0 && this.#hit(latencyRate)) return this.#delayed(fn, context, latencyMs);
    return this.#inject(fn, context);
  }

  async #delayed<T>(fn: PolicyFn<T>, context: ExecuteContext, delayMs: number): Promise<T | R> {
    if (this.#events.hasListeners) this.#events.emit({ type: 'latency', policy: this.name, delayMs });
    const signal = context.signal;
    await this.#clock.sleep(delayMs, signal === neverAborted ? undefined : signal);
    return this.#inject(fn, context);
  }

  #inject<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T | R> {
    if (!this.#hit(this.#opts.faultRate)) return invoke(fn, context);
    if (this.#hasOutcome) {
      if (this.#events.hasListeners) this.#events.emit({ type: 'outcome', policy: this.name });
      const outcome = this.#outcome;
      return typeof outcome === 'function'
        ? invoke(outcome as (context: ExecuteContext) => R | PromiseLike<R>, context)
        : Promise.resolve(outcome as R);
    }
    const fault = this.#fault;
    let error: unknown = fault;
    if (typeof fault === 'function') {
      try {
        error = fault(context);
      } catch (thrown) {
        error = thrown;
      }
    }
    if (this.#events.hasListeners) this.#events.emit({ type: 'fault', policy: this.name, error });
    return Promise.reject(error);
  }

  /** Whether this call is hit at `rate`: draws a number only for a rate strictly between 0 and 1. */
  #hit(rate: number): boolean {
    return rate >= 1 || (rate > 0 && this.#random() < rate);
  }
}

/**
 * Fault injection as a policy: put it innermost in a pipeline to test that the layers
 * around it recover. Guard it in production (`enabled: false`, or a flag function).
 *
 * @example
 * const policy = pipeline(retry(), chaos({ faultRate: 0.3, enabled: () => flags.chaos }));
 */
export function chaos<R = never>(options: ChaosOptions<R> = {}): ChaosPolicy<R> {
  return new ChaosPolicy(options);
}

import { handles } from '../errors/handles.js';
import { Emitter } from '../events/emitter.js';
import { type ExecuteContext, PolicyBase, type PolicyFn } from '../policy/policy.js';
import { isAwaited } from '../timeout/awaited.js';
import { type FallbackOptions, resolveFallbackOptions } from './options.js';

/** The substitute: a value, or a function of the error (e.g. read from the replica instead). */
export type FallbackValue<R> = R | ((error: unknown, context: ExecuteContext) => R | PromiseLike<R>);

/** The primary failed with a handled error and the fallback was used. */
export type FallbackEvent = { type: 'fallback'; policy: string; error: unknown };

/**
 * Replaces handled failures with a value or the result of a function of the error. Like
 * every policy it has `execute`, `run` and `wrap`; results are typed `T | R`.
 */
export class FallbackPolicy<R> extends PolicyBase<FallbackEvent, R> {
  readonly name: string;
  readonly #value: FallbackValue<R>;
  readonly #handle: ((error: unknown) => boolean) | undefined;
  readonly #events = new Emitter<FallbackEvent>();
  readonly onEvent = this.#events.subscribe;
  readonly onFallback = this.#events.subscribe;

  constructor(value: FallbackValue<R>, options: FallbackOptions = {}) {
    super();
    this.name = resolveFallbackOptions(options).name;
    this.#value = value;
    this.#handle = options.handle;
  }

  async run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T | R> {
    try {
      return await fn(context);
    } catch (error) {
      // A caller that cancelled, or a time limit that answered it already, takes no substitute:
      // the fallback would run for nobody. A time limit that still waits (a soft timeout's) does.
      const { aborted, reason } = context.signal;
      const handled = !(aborted && !isAwaited(reason)) && (!this.#handle || handles(this.#handle, error, 'fallback'));
      if (!handled) throw error;
      if (this.#events.hasListeners) this.#events.emit({ type: 'fallback', policy: this.name, error });
      const value = this.#value;
      return typeof value === 'function'
        ? (value as (error: unknown, context: ExecuteContext) => R | PromiseLike<R>)(error, context)
        : value;
    }
  }
}

/**
 * A substitute for failed calls: a value, or a function called with the error and context
 * (a function *value*: `fallback(() => fn)`).
 *
 * @example
 * const readUser = fallback((error) => replica.getUser(id));
 * const user = await readUser.execute(({ signal }) => primary.getUser(id, { signal }));
 */
export function fallback<R>(value: FallbackValue<R>, options: FallbackOptions = {}): FallbackPolicy<R> {
  return new FallbackPolicy(value, options);
}

import type { Disposer } from '../events/emitter.js';
import { type ExecuteContext, PolicyBase, type PolicyEvent, type PolicyFn } from '../policy/policy.js';
import { PIPELINE_DEFAULTS, type PipelineLayer, validateLayers } from './options.js';

/** The union of the events of a list of layers. */
export type PipelineEvent<L extends readonly PipelineLayer[]> =
  L[number] extends PipelineLayer<infer E> ? E : PolicyEvent;

/**
 * Several policies as one, outermost first: `pipeline(a, b, c).execute(fn)` runs
 * `a.run(ctx => b.run(ctx2 => c.run(fn, ctx2), ctx), context)`. Each layer hands the context
 * it gives its function (a timeout's own signal, a retry's attempt number) to the next.
 */
export class Pipeline<E extends PolicyEvent = PolicyEvent> extends PolicyBase<E> {
  readonly name: string = PIPELINE_DEFAULTS.name;
  readonly #layers: readonly PipelineLayer[];

  constructor(layers: readonly PipelineLayer[]) {
    super();
    validateLayers(layers);
    this.#layers = [...layers];
  }

  /** The layers, outermost first. */
  get policies(): readonly PipelineLayer[] {
    return this.#layers;
  }

  /** Every event of every layer (each stamped with its layer's name); returns one disposer. */
  readonly onEvent = (listener: (event: E) => void): Disposer => {
    const disposers = this.#layers.map((layer) => layer.onEvent(listener as (event: PolicyEvent) => void));
    return () => {
      for (const dispose of disposers) dispose();
    };
  };

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    const layers = this.#layers;
    const last = layers.length - 1;
    if (last < 0) return invoke(fn, context);
    // The chain is built as it is entered, so a retried attempt re-enters the inner layers.
    const step = (i: number): PolicyFn<T> =>
      i > last ? fn : (ctx: ExecuteContext) => layers[i]!.run(step(i + 1), ctx) as Promise<T>;
    return layers[0]!.run(step(1), context) as Promise<T>;
  }
}

function invoke<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
  try {
    return Promise.resolve(fn(context));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Composes policies into one, outermost first. Recommended order for calls to a remote
 * dependency: rate limit → total timeout → retry → circuit breaker → attempt timeout.
 *
 * @example
 * const policy = pipeline(timeout(10_000), retry({ maxAttempts: 3 }), circuitBreaker({ strategy: consecutive(5) }), timeout(2_000));
 * policy.onEvent((event) => console.log(event.policy, event.type));
 * await policy.execute(({ signal }) => fetch(url, { signal }));
 */
export function pipeline<L extends readonly PipelineLayer[]>(...policies: L): Pipeline<PipelineEvent<L>> {
  return new Pipeline<PipelineEvent<L>>(policies);
}

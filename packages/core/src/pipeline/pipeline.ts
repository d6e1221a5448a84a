import type { Disposer } from '../events/emitter.js';
import { type ExecuteContext, invoke, PolicyBase, type PolicyEvent, type PolicyFn } from '../policy/policy.js';
import { PIPELINE_DEFAULTS, type PipelineLayer, validateLayers } from './options.js';

/** The union of the events of a list of layers. */
export type PipelineEvent<L extends readonly PipelineLayer[]> =
  L[number] extends PipelineLayer<infer E> ? E : PolicyEvent;

/**
 * What a pipeline may resolve with instead of its function's result: its layers' substitutes,
 * `never` when none has one.
 */
export type PipelineSubstitute<L extends readonly PipelineLayer[]> = SubstituteOf<L[number]>;
type SubstituteOf<L> = L extends { readonly '~substitute': infer R } ? R : never;

/**
 * Several policies as one, outermost first; each layer hands the context it gives its
 * function (a timeout's signal, a retry's attempt) to the next.
 */
export class Pipeline<E extends PolicyEvent = PolicyEvent, R = never> extends PolicyBase<E, R> {
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

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T | R> {
    const layers = this.#layers;
    if (layers.length === 0) return invoke(fn, context);
    // One function per inner layer, none for a single layer: each runs its layer around the
    // next, so a retried attempt re-enters the inner layers. Each layer may add its
    // substitute to what the layers inside it resolve with.
    let next = fn as PolicyFn<T | R>;
    for (let i = layers.length - 1; i > 0; i--) {
      const layer = layers[i]!;
      const inner = next;
      next = (ctx: ExecuteContext) => layer.run(inner, ctx) as Promise<T | R>;
    }
    return layers[0]!.run(next, context) as Promise<T | R>;
  }
}

/**
 * Composes policies into one, outermost first (order: docs/pipeline.md); the result is typed
 * with every layer's substitute: `pipeline(fallback('cached'), retry())` gives `T | string`.
 *
 * @example
 * const policy = pipeline(timeout(10_000), retry(), circuitBreaker(), timeout(2_000));
 * await policy.execute(({ signal }) => fetch(url, { signal }));
 */
export function pipeline<L extends readonly PipelineLayer[]>(
  ...policies: L
): Pipeline<PipelineEvent<L>, PipelineSubstitute<L>> {
  return new Pipeline<PipelineEvent<L>, PipelineSubstitute<L>>(policies);
}

import { OptionsValidator } from '../errors/validate.js';
import type { Subscribe } from '../events/emitter.js';
import type { ExecuteContext, PolicyEvent, PolicyFn } from '../policy/policy.js';

/**
 * What a pipeline needs from a layer: a name, `run(fn, context)` and `onEvent`. Every policy
 * of the toolkit fits, and so does another pipeline. A layer that may resolve with something
 * other than its function's result declares its type as `declare readonly '~substitute': R`
 * (as `PolicyBase<E, R>` does), so the pipeline's result type includes it.
 */
export interface PipelineLayer<E extends PolicyEvent = PolicyEvent> {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: a layer may widen the result (fallback returns T | R).
  run(fn: PolicyFn<any>, context: ExecuteContext): Promise<unknown>;
  readonly onEvent: Subscribe<E>;
}

export const PIPELINE_DEFAULTS = {
  /** The pipeline's own name (each event keeps the name of the layer that reported it). */
  name: 'pipeline',
} as const;

/** Throws a `ConfigurationError` naming every argument that is not a policy. */
export function validateLayers(layers: readonly unknown[]): void {
  const v = new OptionsValidator('pipeline');
  layers.forEach((layer, i) => {
    const ok =
      typeof layer === 'object' &&
      layer !== null &&
      typeof (layer as PipelineLayer).run === 'function' &&
      typeof (layer as PipelineLayer).onEvent === 'function';
    v.check(ok, `policies[${i}]`, layer, 'a policy (with run and onEvent)');
  });
  v.done();
}

import { OptionsValidator } from '../errors/validate.js';
import type { Subscribe } from '../events/emitter.js';
import type { ExecuteContext, PolicyEvent, PolicyFn } from '../policy/policy.js';
import { eventSources } from './layers.js';

/**
 * A layer of a pipeline: any policy, or another pipeline. One that may resolve with something
 * else than its function's result declares it: `declare readonly '~substitute': R`.
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

/** Throws a `ConfigurationError` naming every argument that is not a policy, or one given already. */
export function validateLayers(layers: readonly unknown[]): void {
  const v = new OptionsValidator('pipeline');
  const seen = new Set<PipelineLayer>();
  layers.forEach((layer, i) => {
    const ok =
      typeof layer === 'object' &&
      layer !== null &&
      typeof (layer as PipelineLayer).run === 'function' &&
      typeof (layer as PipelineLayer).onEvent === 'function';
    v.check(ok, `policies[${i}]`, layer, 'a policy (with run and onEvent)');
    // The same instance twice (here or in a nested pipeline) counts each call twice, and a
    // bulkhead, waiting for a slot it holds itself, never runs it.
    const once =
      !ok || [...eventSources(layer as PipelineLayer)].every((source) => !seen.has(source) && seen.add(source));
    v.check(
      once,
      `policies[${i}]`,
      layer,
      'a policy not given already (the same instance twice counts every call twice; a bulkhead would wait on itself)',
    );
  });
  v.done();
}

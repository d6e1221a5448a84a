import type { Subscribe } from '../events/emitter.js';
import type { PolicyEvent } from '../policy/policy.js';

// The sources whose events reach `source`: a pipeline's layers (nested ones too), else itself.
export function eventSources<S extends { readonly onEvent: Subscribe<PolicyEvent> }>(
  source: S,
  into = new Set<S>(),
): Set<S> {
  const layers = (source as { policies?: unknown }).policies;
  const isPipeline = Array.isArray(layers) && layers.every((layer) => typeof (layer as S)?.onEvent === 'function');
  if (isPipeline) for (const layer of layers as S[]) eventSources(layer, into);
  else into.add(source);
  return into;
}

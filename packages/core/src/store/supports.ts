import { ConfigurationError } from '../errors/errors.js';
import type { Store, Transition } from './store.js';

// biome-ignore lint/suspicious/noExplicitAny: transitions of every type.
type AnyTransition = Transition<any, any, any>;

/**
 * Refuses, at construction, a store that cannot apply one of `transitions` (see
 * `Store.supports`): a `ConfigurationError` of `subject` naming the option `store` and every
 * transition it lacks.
 */
export function requireSupport(subject: string, store: Store, transitions: readonly AnyTransition[]): void {
  if (typeof store.supports !== 'function') return;
  const missing = [
    ...new Set(transitions.filter((t) => store.supports?.(t.name, t.params) !== true).map((t) => t.name)),
  ];
  if (missing.length === 0) return;
  throw new ConfigurationError(subject, [
    {
      option: 'store',
      received: `a store without ${missing.join(', ')}`,
      allowed: 'a store that applies every transition this consumer uses (store.supports(name, params) is true)',
    },
  ]);
}

/**
 * `step()`, a store's operation, with a synchronous throw turned into a rejection: a store
 * that throws its failure (a client that checks its connection before sending) fails as one
 * that rejects, so the caller's failure path — `onStoreError`, a breaker's `store_error` —
 * decides, and nothing escapes a timer.
 */
export function storeStep<T>(step: () => Promise<T>): Promise<T> {
  try {
    return step();
  } catch (error) {
    return Promise.reject(error);
  }
}

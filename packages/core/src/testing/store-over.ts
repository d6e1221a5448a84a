import type { Store } from '../store/store.js';

/**
 * A store that forwards the six methods of the Store interface to `inner` (and nothing else: no
 * `instanceof MemoryStore`, no `…Sync` fast paths), except those given in `own` (internal: not
 * exported; for tests that make some steps fail, count or throw).
 */
export function storeOver(inner: Store, own: Partial<Store> = {}): Store {
  return {
    apply: (key, t, input, now) => inner.apply(key, t, input, now),
    applyAll: (ops, now) => inner.applyAll(ops, now),
    get: (key, now) => inner.get(key, now),
    set: (key, value, ttlMs, now) => inner.set(key, value, ttlMs, now),
    delete: (key) => inner.delete(key),
    keys: (prefix, now, options) => inner.keys(prefix, now, options),
    ...own,
  };
}

import { type OptionNames, OptionsValidator } from '../errors/validate.js';

export interface MemoryStoreOptions {
  /**
   * Most keys kept. Past it, the least recently used key is evicted, so a caller cycling
   * through millions of keys cannot grow memory beyond about `maxKeys × 150` bytes
   * (127 a key with 100 000 keys of ~10 characters and numeric states; larger JSON states
   * cost their size).
   * Pinned keys (in-flight locks, at most half of them) are never evicted, so a key used
   * again before `maxKeys / 2` other keys were touched never is either (before `maxKeys`
   * while nothing is pinned).
   * @default 100_000
   */
  maxKeys?: number;
}

/** Every option `memoryStore` takes; any other name is rejected. */
export const MEMORY_STORE_OPTION_NAMES = { maxKeys: true } as const satisfies OptionNames<MemoryStoreOptions>;

export const MEMORY_STORE_DEFAULTS = {
  maxKeys: 100_000,
} as const;

export interface ResolvedMemoryStoreOptions {
  maxKeys: number;
}

export function resolveMemoryStoreOptions(options: MemoryStoreOptions): ResolvedMemoryStoreOptions {
  const v = new OptionsValidator('memoryStore');
  v.integer('maxKeys', v.known(options, MEMORY_STORE_OPTION_NAMES).maxKeys, { min: 1, max: 2 ** 30 });
  v.done();
  return { maxKeys: options.maxKeys ?? MEMORY_STORE_DEFAULTS.maxKeys };
}

import { type OptionNames, OptionsValidator } from '../errors/validate.js';

export interface MemoryStoreOptions {
  /**
   * Most keys kept; past it the least recently used is evicted (about `maxKeys × 150` bytes
   * with small states). Pinned keys, at most half, are never evicted. See docs/stores.md.
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

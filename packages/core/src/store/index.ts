export { MemoryStore, memoryStore } from './memory.js';
export { storeKey, storeNamespace } from './namespace.js';
export { MEMORY_STORE_DEFAULTS, type MemoryStoreOptions } from './options.js';
export {
  isStore,
  type JsonValue,
  type PackedCodec,
  type PackedTransition,
  type Store,
  type StoreChannel,
  type StoreKeysOptions,
  type StoreOperation,
  type Transition,
  type TransitionResult,
} from './store.js';

import { describe, it } from 'vitest';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { runStoreConformance } from '../testing/store-conformance.js';
import { storeOver } from '../testing/store-over.js';
import { memoryStore } from './memory.js';
import type { Store } from './store.js';

/** Only the six methods of the Store interface: no `instanceof MemoryStore`, no `…Sync` fast paths. */
const interfaceOnly = (store: Store): Store => storeOver(store);

runStoreConformance('memoryStore', () => memoryStore(), { describe, it });
runStoreConformance('memoryStore with few keys', () => memoryStore({ maxKeys: 8 }), { describe, it });
runStoreConformance('memoryStore through the Store interface only', () => interfaceOnly(memoryStore()), {
  describe,
  it,
});
runStoreConformance(
  'memoryStore behind an asynchronous JSON round trip',
  () => jsonRoundTripStore(memoryStore({ maxKeys: 8 })),
  { describe, it },
);

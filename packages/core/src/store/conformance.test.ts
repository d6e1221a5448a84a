import { describe, it } from 'vitest';
import { runStoreConformance } from '../testing/store-conformance.js';
import { memoryStore } from './memory.js';

runStoreConformance('memoryStore', () => memoryStore(), { describe, it });
runStoreConformance('memoryStore with few keys', () => memoryStore({ maxKeys: 8 }), { describe, it });
